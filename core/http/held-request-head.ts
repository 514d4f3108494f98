// The RequestHead of a request the native engine holds for its route's filters (native-filtered.ts), made from the
// head the addon passes. The addon's parse (native/h1-parse.c) already refused everything unusual: what arrives is
// an HTTP/1.1 request line with an origin-form target, CRLF lines of `name:` fields with valid names and values,
// exactly one valid Host, at most one Content-Length of digits, Transfer-Encoding only as `chunked`, a Connection
// of close/keep-alive only, no Upgrade. So fields are found with indexOf alone, where the net engine's parser
// validates byte by byte: in code that runs ten times a second, never optimized by V8, that loop took 105 µs a
// head of the worker's turn (bench:offload, timed per call); this takes a fraction of it. The result is what the
// net engine's parser and requestHeadFromParsed make of the same bytes (test/unit/core/http/held-request-head.test.ts).

import { HOP_BY_HOP } from './header-rules.ts';
import { requestHeadFromParsed } from './parsed-request-head.ts';
import type { RequestHead } from './request-head.ts';
import { ParsedRequest } from './request-parser.ts';

const NO_UPGRADES: ReadonlySet<string> = new Set();
const SP = 0x20;
const HTAB = 0x09;

export function heldRequestHead(raw: string): RequestHead {
  const methodEnd = raw.indexOf(' ');
  const targetEnd = raw.indexOf(' ', methodEnd + 1);
  const req = new ParsedRequest(raw, raw.slice(0, methodEnd), raw.slice(methodEnd + 1, targetEnd), 1, []);
  const fields = req.fields as number[];
  const end = raw.length - 2;
  let at = raw.indexOf('\r\n', targetEnd) + 2;
  while (at < end) {
    const lineEnd = raw.indexOf('\r\n', at);
    const colon = raw.indexOf(':', at);
    let valueStart = colon + 1;
    while (isOws(raw.charCodeAt(valueStart)) && valueStart < lineEnd) valueStart++;
    let valueEnd = lineEnd;
    while (valueEnd > valueStart && isOws(raw.charCodeAt(valueEnd - 1))) valueEnd--;
    const index = fields.length >> 2;
    fields.push(at, colon, valueStart, valueEnd);
    const name = raw.slice(at, colon).toLowerCase();
    if (name === 'host') {
      req.hostField = index;
      req.host = raw.slice(valueStart, valueEnd);
    } else if (HOP_BY_HOP.has(name) || name === 'content-length') {
      // Fields a proxy never forwards as received: the hop-by-hop set and Content-Length (the parser's).
      (req.hopByHop ??= []).push(index);
      if (name === 'content-length') req.contentLength = Number(raw.slice(valueStart, valueEnd));
      else if (name === 'transfer-encoding') req.chunked = true;
      else if (name === 'expect') req.expectContinue = raw.slice(valueStart, valueEnd).toLowerCase() === '100-continue';
    }
    at = lineEnd + 2;
  }
  if (req.chunked) req.contentLength = -1;
  return requestHeadFromParsed(req, '', NO_UPGRADES);
}

function isOws(c: number): boolean {
  return c === SP || c === HTAB;
}
