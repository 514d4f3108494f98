// The head of a request held for its filters (core/http/held-request-head.ts) is what the net engine makes of the
// same bytes: every head here is one the addon's strict parse passes, and both paths must give the same request
// line, fields, framing and upstream head.

import { describe, expect, it } from 'vitest';
import { heldRequestHead } from '../../../../core/http/held-request-head.ts';
import { requestHeadFromParsed } from '../../../../core/http/parsed-request-head.ts';
import type { RequestHead } from '../../../../core/http/request-head.ts';
import { type ParsedRequest, RequestParser } from '../../../../core/http/request-parser.ts';
import { requestHeadText } from '../../../../core/upstream/request-encoder.ts';

const LIMITS = { maxHeadBytes: 65536, maxUriBytes: 8192, maxFields: 100 };

function viaNetParser(raw: string): RequestHead {
  let got: ParsedRequest | null = null;
  const parser = new RequestParser(
    {
      onRequestHead: (r) => {
        got = r;
      },
      onRequestBody: () => {},
      onRequestComplete: () => {},
    },
    LIMITS,
  );
  expect(parser.execute(Buffer.from(raw, 'latin1'))).toBeNull();
  return requestHeadFromParsed(got as unknown as ParsedRequest, '', new Set());
}

const HEADS = [
  'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET /p/a/t/h?x=1&y=%20 HTTP/1.1\r\nhost: svc.local:8080\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n',
  'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\nContent-Type: application/octet-stream\r\n\r\n',
  'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nx-a: 1\r\n\r\n',
  'PUT /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n',
  'GET /c HTTP/1.1\r\nConnection: keep-alive\r\nHost: a\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: x\r\n\r\n',
  'GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTrailer: x\r\n\r\n',
  'GET /ows HTTP/1.1\r\nHost:a\r\nX-Spaces:   padded value \t \r\nX-Empty:\r\nX-Empty-Spaces:   \r\n\r\n',
  'GET /ids HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n',
  'GET /obs HTTP/1.1\r\nHost: a\r\nX-Latin: caf\u00e9 \u00ff\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n',
  'DELETE /d HTTP/1.1\r\nHOST: UPPER.example\r\nCONTENT-LENGTH: 0\r\n\r\n',
];

describe('held request head', () => {
  it.each(HEADS)('matches the net engine for %j', (raw) => {
    const held = heldRequestHead(raw);
    const net = viaNetParser(raw);
    expect(held.method).toBe(net.method);
    expect(held.path).toBe(net.path);
    expect(held.query).toBe(net.query);
    expect(held.contentLength).toBe(net.contentLength);
    expect(held.chunked).toBe(net.chunked);
    expect(held.expectContinue).toBe(net.expectContinue);
    expect(held.host).toBe(net.host);
    expect([...held.headers.entries]).toEqual([...net.headers.entries]);
    expect(requestHeadText(held)).toBe(requestHeadText(net));
  });

  it('keeps the fields as received, and a filter sees and edits them as on net', () => {
    const held = heldRequestHead('GET / HTTP/1.1\r\nHost: a\r\nX-Keep: 1\r\nConnection: close\r\n\r\n');
    expect(held.headers.get('x-keep')).toBe('1');
    expect(held.headers.has('connection')).toBe(false);
    held.headers.set('x-keep', '2');
    expect(requestHeadText(held)).toContain('x-keep: 2\r\n');
  });
});
