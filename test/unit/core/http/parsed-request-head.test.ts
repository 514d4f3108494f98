import { describe, expect, it } from 'vitest';
import { requestHeadFromParsed } from '../../../../core/http/parsed-request-head.ts';
import type { RequestHead } from '../../../../core/http/request-head.ts';
import { type ParsedRequest, RequestParser } from '../../../../core/http/request-parser.ts';
import { requestHeadText } from '../../../../core/upstream/request-encoder.ts';
import { LIMITS } from '../../../helpers/collect-request.ts';

/** Parses one request head and turns it into the RequestHead the stream gets. */
function headOf(raw: string): RequestHead {
  let parsed: ParsedRequest | null = null;
  const parser = new RequestParser(
    {
      onRequestHead(r) {
        parsed = r;
      },
      onRequestBody() {},
      onRequestComplete() {},
    },
    LIMITS,
  );
  expect(parser.execute(Buffer.from(raw, 'latin1'))).toBeNull();
  if (parsed === null) throw new Error('no request head');
  return requestHeadFromParsed(parsed, '10.0.0.1:80', new Set(['websocket']));
}

describe('a received head forwarded by slicing', () => {
  it('forwards the client’s own field lines, byte for byte, without the hop-by-hop and framing ones', () => {
    const head = headOf(
      'POST /a?b HTTP/1.1\r\nHost: h.example\r\nConnection: keep-alive\r\nX-Case:  Mixed \xe9 \r\nTE: trailers\r\nContent-Length: 3\r\nKeep-Alive: 5\r\nX-Last: z\r\n\r\nabc',
    );
    expect(requestHeadText(head)).toBe('POST /a?b HTTP/1.1\r\nHost: h.example\r\nX-Case:  Mixed \xe9 \r\nX-Last: z\r\ncontent-length: 3\r\n\r\n');
  });

  it('looks fields up case-insensitively without materialising them, and adds new ones after the received lines', () => {
    const head = headOf('GET / HTTP/1.1\r\nHost: h\r\nX-Request-ID: abc\r\n\r\n');
    expect(head.headers.get('x-request-id')).toBe('abc');
    expect(head.host).toBe('h');
    head.headers.pushTrusted('x-forwarded-for', '127.0.0.1');
    expect(head.headers.wireLines).toBe('Host: h\r\nX-Request-ID: abc\r\n');
    expect(requestHeadText(head)).toBe('GET / HTTP/1.1\r\nHost: h\r\nX-Request-ID: abc\r\nx-forwarded-for: 127.0.0.1\r\n\r\n');
  });

  it('turns every field into strings, in order, once a received field changes', () => {
    const head = headOf('GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 10.1.1.1\r\nX-B: b\r\n\r\n');
    head.headers.pushTrusted('x-added', '1');
    head.headers.appendTrusted('x-forwarded-for', '127.0.0.1');
    expect(head.headers.wireLines).toBeNull();
    expect(head.headers.entries).toEqual(['host', 'h', 'x-forwarded-for', '10.1.1.1, 127.0.0.1', 'x-b', 'b', 'x-added', '1']);
    head.headers.remove('x-b');
    expect(requestHeadText(head)).toBe('GET / HTTP/1.1\r\nhost: h\r\nx-forwarded-for: 10.1.1.1, 127.0.0.1\r\nx-added: 1\r\n\r\n');
  });

  it('keeps wire lines when a field that was never received is removed', () => {
    const head = headOf('GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(head.headers.remove('x-absent')).toBe(0);
    expect(head.headers.wireLines).toBe('Host: h\r\n');
  });

  it('replaces the Host line with an absolute-form target’s authority (RFC 9112 §3.2.2)', () => {
    const head = headOf('GET http://t.example/p HTTP/1.1\r\nX-A: 1\r\nHost: other\r\nX-B: 2\r\n\r\n');
    expect(requestHeadText(head)).toBe('GET /p HTTP/1.1\r\nX-A: 1\r\nX-B: 2\r\nhost: t.example\r\n\r\n');
    const first = headOf('GET http://t.example/p HTTP/1.1\r\nHost: other\r\nConnection: keep-alive\r\nX-A: 1\r\nTE: x\r\n\r\n');
    expect(first.headers.wireLines).toBe('X-A: 1\r\n');
  });

  it('gives an HTTP/1.0 request without Host the listener’s authority', () => {
    expect(requestHeadText(headOf('GET / HTTP/1.0\r\nX-A: 1\r\n\r\n'))).toBe('GET / HTTP/1.1\r\nX-A: 1\r\nhost: 10.0.0.1:80\r\n\r\n');
  });

  it('drops the fields Connection names as hop-by-hop too', () => {
    const head = headOf('GET / HTTP/1.1\r\nHost: h\r\nConnection: x-hop, close\r\nX-Hop: secret\r\nX-Keep: 1\r\n\r\n');
    expect(requestHeadText(head)).toBe('GET / HTTP/1.1\r\nhost: h\r\nx-keep: 1\r\n\r\n');
  });

  it('passes an allowed upgrade on with its own Connection and Upgrade lines', () => {
    const head = headOf('GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k\r\n\r\n');
    expect(requestHeadText(head)).toBe('GET /ws HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
  });
});
