// Turns what the `net` engine's parser found into the RequestHead filters and the upstream encoder use: the
// target in origin form, the Host the request is for (RFC 9112 §3.2.2), and the fields without hop-by-hop and
// framing fields (the encoder frames the body itself). Fields stay as received (wire-fields.ts) unless Connection
// names extra hop-by-hop fields; values stay latin1 either way, so obs-text bytes pass unchanged.

import { HeaderList } from './header-list.ts';
import { stripHopByHop } from './header-rules.ts';
import { RequestHead } from './request-head.ts';
import type { ParsedRequest } from './request-parser.ts';
import { WireFields } from './wire-fields.ts';

/** Made again on the way upstream: the body framing by the encoder, the Host by the engine. */
const MADE_FOR_UPSTREAM: ReadonlySet<string> = new Set(['content-length', 'host']);

/**
 * `defaultHost` is used for HTTP/1.0 requests without Host: the upstream is spoken to in HTTP/1.1, which
 * requires one. `upgrades` lists the protocols this listener tunnels.
 */
export function requestHeadFromParsed(req: ParsedRequest, defaultHost: string, upgrades: ReadonlySet<string>): RequestHead {
  const host = req.host !== '' ? req.host : defaultHost;
  const headers = req.connectionListsFields ? stringHeaders(req, host) : wireHeaders(req, host);
  const { path, query } = originForm(req.target);
  const head = new RequestHead(req.method, path, query, headers, req.chunked ? -1 : req.contentLength, req.chunked);
  head.expectContinue = req.expectContinue;
  if (req.upgrade !== '' && upgrades.has(req.upgrade.trim().toLowerCase())) head.upgrade = req.upgrade.trim();
  return head;
}

/** The common case: received fields kept as they are, hop-by-hop ones left out. */
function wireHeaders(req: ParsedRequest, host: string): HeaderList {
  let omitted = req.hopByHop;
  const keepHostLine = req.hostField >= 0 && !req.hostFromTarget;
  if (req.hostField >= 0 && !keepHostLine) omitted = withIndex(omitted, req.hostField);
  const headers = HeaderList.fromWire(new WireFields(req.text, req.fields, omitted));
  if (!keepHostLine) headers.pushTrusted('host', host);
  return headers;
}

function withIndex(sorted: number[] | null, index: number): number[] {
  const out = sorted === null ? [] : [...sorted];
  let at = out.length;
  while (at > 0 && (out[at - 1] as number) > index) at--;
  out.splice(at, 0, index);
  return out;
}

/** Connection names further fields to drop: every field becomes a string (rare; RFC 9110 §7.6.1). */
function stringHeaders(req: ParsedRequest, host: string): HeaderList {
  const headers = new HeaderList();
  const e = headers.entries;
  const n = req.fieldCount;
  for (let i = 0; i < n; i++) e.push(req.name(i), req.value(i));
  // The same rules as every other direction: hop-by-hop fields and what Connection lists go; the encoder frames
  // the body and the Host is the one the request is for, put first.
  stripHopByHop(headers, MADE_FOR_UPSTREAM);
  e.unshift('host', host);
  return headers;
}

/** Path and query of a target; an absolute-form target loses its scheme and authority (sent in origin form). */
function originForm(target: string): { path: string; query: string } {
  let rest = target;
  if (target.charCodeAt(0) !== 0x2f && target !== '*') {
    const afterScheme = target.indexOf('://') + 3;
    const pathStart = target.slice(afterScheme).search(/[/?]/);
    rest = pathStart < 0 ? '/' : target.slice(afterScheme + pathStart);
    if (rest.charCodeAt(0) === 0x3f) rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  return q < 0 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q + 1) };
}
