// Turns what the `net` engine's parser found into the RequestHead filters and the upstream encoder use: the
// target in origin form, the Host the request is for (RFC 9112 §3.2.2), and the fields without hop-by-hop and
// framing fields (the encoder frames the body itself). Fields stay as received (wire-fields.ts) unless Connection
// names extra hop-by-hop fields; values stay latin1 either way, so obs-text bytes pass unchanged.

import { HeaderList } from './header-list.ts';
import { RequestHead } from './request-head.ts';
import type { ParsedRequest } from './request-parser.ts';
import { WireFields } from './wire-fields.ts';

/** Never forwarded (RFC 9110 §7.6.1), or re-made by the encoder (content-length) or the engine (host, expect). */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
  'content-length',
  'host',
]);

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
  e.push('host', host);
  let listed: Set<string> | null = null;
  const n = req.fieldCount;
  for (let i = 0; i < n; i++) {
    const name = req.name(i);
    if (NOT_FORWARDED.has(name)) {
      if (name === 'connection') listed = addListed(listed, req.value(i));
      continue;
    }
    e.push(name, req.value(i));
  }
  if (listed !== null) for (const name of listed) headers.remove(name);
  return headers;
}

function addListed(listed: Set<string> | null, value: string): Set<string> {
  const out = listed ?? new Set<string>();
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    // `close`, `keep-alive` and `upgrade` are connection options, not field names to drop (upgrade is dropped anyway).
    if (t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'host') out.add(t);
  }
  return out;
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
