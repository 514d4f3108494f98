// Random exchanges for the exchange fuzz test: what a client sends for one request, what the upstream answers to
// it (whole, cut short, malformed or not at all), and what the client must then see. Everything is drawn from one
// seeded generator, so a failing case is named by its seed and connection and can be replayed.

import { REJECTED_REQUESTS } from '../rejected-requests.ts';
import type { Random } from './random.ts';

/** What an engine accepts of the client side (README: the uws engine's known limits). */
export interface Capabilities {
  /** Requests sent before the previous response came. */
  pipelining: boolean;
  http10: boolean;
  /** Chunk extensions and trailers in request bodies. */
  chunkExtras: boolean;
  /** The malformed requests of `REJECTED_REQUESTS`, each answered with its status and a close. */
  rejections: boolean;
  /** Bytes 0x80-0xff anywhere in a field value (uWS drops them at the end of one). */
  obsText: boolean;
  /** A request line cut between two reads (uWS answers some cuts with 505). */
  splitRequestLines: boolean;
  /**
   * The proxy closes the connection itself after a response the client asked to be the last. The uws engine
   * says `connection: close` and leaves the close to the client unless uWS saw the request's close (README).
   */
  closesWhenAsked: boolean;
}

/** What the client must see for one request. */
export type Expectation =
  /** The upstream's response, whole; `closes`: whether the connection may or must end after it. */
  | { kind: 'relayed'; status: number; body: Buffer; closes: 'never' | 'may' | 'must' }
  /**
   * A local reply: the proxy's for an upstream failure before the response started, or a filter's. A close may
   * follow unless `keepsOpen` (a filter's answer to a whole request without a body, on a connection kept alive).
   */
  | { kind: 'local'; status: number; keepsOpen: boolean }
  /**
   * The upstream died or stalled mid-body: either a local reply of status `local` (502 when the proxy saw the end
   * with the head; 504 when the route's timeout came before the head did) or this status with the body cut short
   * and the connection closed. Never this status looking complete.
   */
  | { kind: 'cut'; status: number; local: number }
  /** The client's request is malformed: this status, then a close. */
  | { kind: 'rejected'; status: number };

export interface UpstreamPlan {
  /** Bytes the upstream writes, in pieces of its choosing. */
  wire: Buffer;
  /** After the last byte: keep the connection, end it (FIN) or reset it. */
  ending: 'keep' | 'fin' | 'reset';
  /** Act when the head arrives instead of after the whole request (its body may be unread). */
  atHead: boolean;
}

/**
 * The route a request takes (the test's config): `fz` has no filters; `fzh` a request-side `headers` filter that sets
 * `x-filtered: yes`; `fzs` that and a `body-scan` whose pattern matches nothing, so the body is gathered whole,
 * scanned in the offload pool and forwarded (the native engine holds such exchanges while JavaScript decides);
 * `fzg` the `headers` filter and `fuzz-gate` (test/fixtures/filters), which pauses or answers 403 as the request's
 * `x-fz-gate` says and marks every response it sees `x-gated: yes`; `fzb` the `headers` filter and `fuzz-reframe`,
 * which hands back each response body chunk as a new Buffer, so the proxy frames the response itself; `fzw` the
 * `headers` filter and `fuzz-whole`, which asks for every body whole up to WHOLE_BODY_LIMIT (413 above) and answers
 * 418 in place of any response when the request's `x-fz-whole` says `replace`; `fzp` the `headers` filter and
 * `fuzz-pace`, which pauses on promises in both body phases, and on the response head when `x-fz-pace` says `head`;
 * `fzt` no filters and a timeout of ROUTE_TIMEOUT_MS, with an upstream that stalls (stalledPlan()); `fzl` no filters
 * and a cluster of two endpoints (the upstream's two ports), so each request is load-balanced: on the native engine,
 * no decision kept, JavaScript decides every one.
 */
export type Route = 'fz' | 'fzh' | 'fzs' | 'fzg' | 'fzb' | 'fzw' | 'fzp' | 'fzt' | 'fzl';

/** Route `fzt`'s `timeoutMs` (the test's config passes it): every exchange on it waits this long. */
export const ROUTE_TIMEOUT_MS = 400;

/** fuzz-whole's `maxBytes` on route `fzw` (the test's config passes it). */
export const WHOLE_BODY_LIMIT = 8192;

/** What `fuzz-gate` does with a request on route `fzg`, by its `x-fz-gate` field (none: continue at once). */
const GATES = [null, 'pause', 'pause-later', 'deny', 'deny-later'] as const;

export interface ExchangePlan {
  id: string;
  route: Route;
  method: string;
  /** The request target; the upstream finds the plan by it. */
  path: string;
  /** An HTTP/1.0 request: its response has no chunked framing, an unknown length ends with the connection. */
  http10: boolean;
  /** What the client sends: head and framed body. */
  wire: Buffer;
  /** The head's bytes at the start of `wire` (a client waiting for 100 Continue sends them alone first). */
  headLength: number;
  /** The request says `Expect: 100-continue`, so its client may wait for the go-ahead before the body. */
  expectsContinue: boolean;
  /** The body the upstream must receive, decoded. */
  body: Buffer;
  /** End-to-end fields the upstream must receive as sent (lower-case names). */
  fields: [string, string][];
  /** Field names the upstream must not receive. */
  hopByHop: string[];
  /** Field names the client must not receive. */
  responseHopByHop: string[];
  upstream: UpstreamPlan | null;
  expect: Expectation;
}

/** Looks like the end of a chunked body and a second request: a proxy that mis-frames a body forwards it. */
const SMUGGLE = Buffer.from('\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n', 'latin1');

const MALFORMED_RESPONSES = [
  'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  'HTTP/1.1 200 OK\nContent-Length: 2\n\nab',
  'HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 2\r\n\r\nab',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
  'HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nab',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab',
  'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
  'HTTX/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n',
];

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  302: 'Found',
  304: 'Not Modified',
  204: 'No Content',
  404: 'Not Found',
  500: 'Internal Server Error',
};

function bodyOfSomeSize(r: Random): Buffer {
  const size = r.pick([0, 0, r.between(1, 64), r.between(1, 64), r.between(65, 4096), r.between(4097, 70_000), r.between(70_001, 300_000)]);
  const body = r.bytes(size);
  if (size > SMUGGLE.length && r.chance(0.3)) SMUGGLE.copy(body, r.int(size - SMUGGLE.length));
  return body;
}

/** `body` framed chunked, in random chunk sizes, with extensions and trailers when `extras`. */
function chunked(r: Random, body: Buffer, extras: boolean): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of r.pieces(body.length, 6)) {
    const size = r.chance(0.5) ? n.toString(16) : n.toString(16).toUpperCase();
    const ext = extras && r.chance(0.2) ? ';name=value' : '';
    parts.push(Buffer.from(`${size}${ext}\r\n`, 'latin1'), body.subarray(at, at + n), Buffer.from('\r\n', 'latin1'));
    at += n;
  }
  const trailers = extras && r.chance(0.2) ? 'x-trailer: t\r\n' : '';
  parts.push(Buffer.from(`0\r\n${trailers}\r\n`, 'latin1'));
  return Buffer.concat(parts);
}

function fieldValue(r: Random, obsText: boolean): string {
  const n = r.between(1, 30);
  let v = '';
  for (let i = 0; i < n; i++) v += String.fromCharCode(obsText && r.chance(0.05) ? r.between(0x80, 0xff) : r.between(0x21, 0x7e));
  return v;
}

/**
 * An upstream that stops sending and holds its connection open — before its head, inside it, or inside the body —
 * on route `fzt`: the route's timeout must end the exchange with a local 504 before the response began, or with
 * the response visibly cut and the connection closed after.
 */
function stalledPlan(r: Random, id: string, method: string): Pick<ExchangePlan, 'upstream' | 'expect' | 'responseHopByHop'> {
  const roll = r.int(3);
  const head = Buffer.from(`HTTP/1.1 200 OK\r\nx-plan: ${id}\r\nContent-Length: 5000\r\n\r\n`, 'latin1');
  if (roll === 2 && method !== 'HEAD') {
    const wire = Buffer.concat([head, r.bytes(r.int(5000))]);
    return { upstream: { wire, ending: 'keep', atHead: r.chance(0.3) }, expect: { kind: 'cut', status: 200, local: 504 }, responseHopByHop: [] };
  }
  const wire = roll === 1 ? head.subarray(0, r.between(1, head.length - 1)) : Buffer.alloc(0);
  return { upstream: { wire, ending: 'keep', atHead: r.chance(0.3) }, expect: { kind: 'local', status: 504, keepsOpen: false }, responseHopByHop: [] };
}

/** The upstream's answer to a request, and what the client must see of it. */
function upstreamPlan(
  r: Random,
  id: string,
  method: string,
  http10: boolean,
  asked: 'close' | 'keep',
  withBody: boolean,
): Pick<ExchangePlan, 'upstream' | 'expect' | 'responseHopByHop'> {
  const roll = r.int(100);
  if (roll < 4)
    return {
      upstream: { wire: Buffer.alloc(0), ending: r.pick(['fin', 'reset'] as const), atHead: r.chance(0.5) },
      expect: { kind: 'local', status: 502, keepsOpen: false },
      responseHopByHop: [],
    };
  if (roll < 8)
    return {
      upstream: { wire: Buffer.from(r.pick(MALFORMED_RESPONSES), 'latin1'), ending: 'keep', atHead: false },
      expect: { kind: 'local', status: 502, keepsOpen: false },
      responseHopByHop: [],
    };

  const status = method === 'HEAD' ? r.pick([200, 404]) : r.pick([200, 200, 200, 201, 302, 404, 500, 204, 304]);
  const bodyless = method === 'HEAD' || status === 204 || status === 304;
  const body = bodyless ? Buffer.alloc(0) : bodyOfSomeSize(r);
  const cut = roll >= 8 && roll < 12 ? 'head' : roll >= 12 && roll < 20 && !bodyless && body.length > 0 ? 'body' : null;
  const framing =
    cut === 'body'
      ? r.pick(['length', 'chunked'] as const)
      : status === 204
        ? 'none'
        : r.pick(method === 'HEAD' ? (['length', 'chunked'] as const) : (['length', 'length', 'chunked', 'chunked', 'close'] as const));
  const closeAfter = framing !== 'close' && r.chance(0.1);

  const head: string[] = [`HTTP/1.1 ${status} ${REASONS[status]}`, `x-plan: ${id}`];
  if (framing === 'length' && status !== 304) head.push(`Content-Length: ${method === 'HEAD' ? r.between(0, 99_999) : body.length}`);
  if (framing === 'length' && status === 304 && r.chance(0.5)) head.push(`Content-Length: ${r.between(1, 5000)}`);
  if (framing === 'chunked' && status !== 304) head.push('Transfer-Encoding: chunked');
  for (let k = r.int(4); k > 0; k--) head.push(`x-up-${k}: ${fieldValue(r, true)}`);
  const responseHopByHop: string[] = [];
  if (r.chance(0.15)) {
    head.push('Connection: x-uhop', 'X-Uhop: 1');
    responseHopByHop.push('x-uhop');
  }
  // A server that closes after a response without a body must say so: unannounced, the close races the proxy's
  // next use of the connection, which no proxy can win.
  if (closeAfter || (framing === 'close' && bodyless)) head.push('Connection: close');
  else if (r.chance(0.1)) head.push('Keep-Alive: timeout=5');
  const headBytes = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  const interim = r.chance(0.1) ? Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n', 'latin1') : Buffer.alloc(0);
  const bodyBytes = bodyless ? Buffer.alloc(0) : framing === 'chunked' ? chunked(r, body, true) : body;

  if (cut === 'head') {
    return {
      upstream: { wire: headBytes.subarray(0, r.between(1, headBytes.length - 1)), ending: r.pick(['fin', 'reset'] as const), atHead: false },
      expect: { kind: 'local', status: 502, keepsOpen: false },
      responseHopByHop,
    };
  }
  if (cut === 'body') {
    const keep = r.int(bodyBytes.length);
    return {
      upstream: { wire: Buffer.concat([interim, headBytes, bodyBytes.subarray(0, keep)]), ending: r.pick(['fin', 'reset'] as const), atHead: false },
      expect: { kind: 'cut', status, local: 502 },
      responseHopByHop,
    };
  }
  // The client's connection must end after a response it asked to be the last; may end after one the proxy
  // cannot frame for an HTTP/1.0 client but by closing, or after the upstream's own close.
  // An early answer (as the head arrives, the request body still coming) may end the client's connection too: a
  // proxy need not read on for a request whose exchange is over.
  const early = r.chance(0.1);
  const unknownLength = framing === 'chunked' || framing === 'close';
  const closes =
    asked === 'close' ? 'must' : (http10 && unknownLength && !bodyless) || framing === 'close' || closeAfter || (early && withBody) ? 'may' : 'never';
  return {
    upstream: { wire: Buffer.concat([interim, headBytes, bodyBytes]), ending: framing === 'close' || closeAfter ? 'fin' : 'keep', atHead: early },
    expect: { kind: 'relayed', status, body, closes },
    responseHopByHop,
  };
}

/**
 * One request of a connection, and the upstream's answer. `last`: the connection's last request, the only one
 * that may ask for a close or be malformed (after those the proxy closes, and later requests would go unanswered).
 */
export function exchangePlan(r: Random, id: string, caps: Capabilities, last: boolean): ExchangePlan {
  if (last && caps.rejections && r.chance(0.06)) {
    const [, raw, status] = r.pick(REJECTED_REQUESTS);
    return {
      id,
      route: 'fz',
      method: '',
      path: '',
      http10: false,
      wire: Buffer.from(raw, 'latin1'),
      headLength: raw.length,
      expectsContinue: false,
      body: Buffer.alloc(0),
      fields: [],
      hopByHop: [],
      responseHopByHop: [],
      upstream: null,
      expect: { kind: 'rejected', status },
    };
  }
  const method = r.pick(['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
  const http10 = caps.http10 && r.chance(0.1);
  // A stalled exchange lasts the route's timeout: few of them.
  const route = r.chance(0.03) ? 'fzt' : r.pick(['fz', 'fz', 'fzh', 'fzs', 'fzg', 'fzb', 'fzw', 'fzp', 'fzl'] as const);
  const path = `/${route}/${id}`;
  const lines = [`${method} ${path} HTTP/1.${http10 ? 0 : 1}`, 'Host: fz.test'];
  // End-to-end fields: sent, and checked on arrival upstream.
  const fields: [string, string][] = [];
  const send = (name: string, value: string): void => {
    fields.push([name, value]);
    lines.push(`${name}: ${value}`);
  };
  const gate = route === 'fzg' ? r.pick(GATES) : null;
  if (gate !== null) send('x-fz-gate', gate);
  const replace = route === 'fzw' && r.chance(0.3);
  if (replace) send('x-fz-whole', 'replace');
  if (route === 'fzp' && r.chance(0.5)) send('x-fz-pace', 'head');
  for (let k = r.int(5); k > 0; k--) send(`x-fz-${k}`, fieldValue(r, caps.obsText));
  // A head over 8 KiB: the native engine hands it to net.
  if (r.chance(0.05)) send('x-fz-big', 'b'.repeat(9000));
  const hopByHop = ['te', 'trailer', 'keep-alive', 'proxy-connection', 'expect'];
  let asked: 'close' | 'keep' = http10 ? 'close' : 'keep';
  const connection: string[] = [];
  if (http10 && r.chance(0.6)) {
    connection.push('keep-alive');
    asked = 'keep';
  } else if (!http10 && last && r.chance(0.1)) {
    connection.push('close');
    asked = 'close';
  }
  if (last === false && asked === 'close') {
    // Only a connection's last request may end it.
    connection.push('keep-alive');
    asked = 'keep';
  }
  if (r.chance(0.2)) {
    connection.push('x-hop');
    lines.push('X-Hop: 1');
    hopByHop.push('x-hop');
  }
  if (connection.length > 0) lines.push(`Connection: ${connection.join(', ')}`);
  if (r.chance(0.1)) lines.push('TE: trailers');
  if (r.chance(0.05)) lines.push('Keep-Alive: timeout=5');

  const withBody = ['POST', 'PUT', 'PATCH'].includes(method) || (method !== 'HEAD' && r.chance(0.1));
  let body: Buffer = Buffer.alloc(0);
  let bodyWire: Buffer = Buffer.alloc(0);
  let expectsContinue = false;
  if (withBody) {
    body = bodyOfSomeSize(r);
    if (!http10 && r.chance(0.4)) {
      lines.push('Transfer-Encoding: chunked');
      bodyWire = chunked(r, body, caps.chunkExtras);
    } else {
      lines.push(`Content-Length: ${body.length}`);
      bodyWire = body;
    }
    expectsContinue = !http10 && body.length > 0 && r.chance(0.1);
    if (expectsContinue) lines.push('Expect: 100-continue');
  }
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  const wire = Buffer.concat([head, bodyWire]);
  const denied = gate === 'deny' || gate === 'deny-later';
  const tooBig = route === 'fzw' && body.length > WHOLE_BODY_LIMIT;
  // Denied by fuzz-gate: its 403, nothing upstream; without a body to read past, the connection goes on. Over
  // fuzz-whole's limit: the proxy's 413, nothing upstream; replaced, whatever comes is fuzz-whole's 418.
  const answer: Pick<ExchangePlan, 'upstream' | 'expect' | 'responseHopByHop'> = denied
    ? { upstream: null, expect: { kind: 'local', status: 403, keepsOpen: asked === 'keep' && !withBody }, responseHopByHop: [] }
    : tooBig
      ? { upstream: null, expect: { kind: 'local', status: 413, keepsOpen: false }, responseHopByHop: [] }
      : route === 'fzt'
        ? stalledPlan(r, id, method)
        : upstreamPlan(r, id, method, http10, asked, withBody);
  if (replace) answer.expect = { kind: 'local', status: 418, keepsOpen: false };
  // Re-framed by the proxy, a body of an HTTP/1.0 client's response ends with the connection.
  if (route === 'fzb' && http10 && answer.expect.kind === 'relayed' && answer.expect.body.length > 0 && answer.expect.closes === 'never') {
    answer.expect = { ...answer.expect, closes: 'may' };
  }
  return { id, route, method, path, http10, wire, headLength: head.length, expectsContinue, body, fields, hopByHop, ...answer };
}
