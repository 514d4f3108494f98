import { describe, expect, it } from 'vitest';
import { b, parseResponse } from '../../../helpers/collect-response.ts';

describe('ResponseParser accepts valid responses', () => {
  it('reads a Content-Length body and keeps the connection alive', () => {
    const r = parseResponse([b('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello')]);
    expect(r).toMatchObject({ status: 200, reason: 'OK', body: 'hello', complete: true, error: null, keepAlive: true });
    expect(r.headers).toEqual(['content-length', '5', 'x-a', 'b']);
  });

  it('reads chunked bodies with chunk extensions and drops trailers (RFC 9112 §7.1)', () => {
    const r = parseResponse([b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;name=val\r\nabc\r\n2 ; x\r\nde\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n')]);
    expect(r).toMatchObject({ body: 'abcde', complete: true, error: null });
    expect(r.headers).not.toContain('x-trailer');
  });

  it('reads a close-delimited body to EOF and marks the connection not reusable', () => {
    const r = parseResponse([b('HTTP/1.1 200 OK\r\n\r\npart1'), b('part2')], { eof: true });
    expect(r).toMatchObject({ body: 'part1part2', complete: true, error: null, keepAlive: false });
  });

  it('reads no body for HEAD, 204 and 304 even with a Content-Length', () => {
    expect(parseResponse([b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n')], { head: true })).toMatchObject({ complete: true, body: '' });
    expect(parseResponse([b('HTTP/1.1 204 No Content\r\n\r\n')])).toMatchObject({ status: 204, complete: true });
    expect(parseResponse([b('HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n')])).toMatchObject({ status: 304, complete: true });
  });

  it('swallows 100 Continue and 103 Early Hints before the final response', () => {
    const r = parseResponse([
      b('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok'),
    ]);
    expect(r).toMatchObject({ status: 201, body: 'ok', complete: true });
  });

  it('accepts a status line without a reason phrase', () => {
    expect(parseResponse([b('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n')])).toMatchObject({ status: 200, reason: '', complete: true });
  });

  it('honours Connection: close and HTTP/1.0 keep-alive rules', () => {
    expect(parseResponse([b('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n')]).keepAlive).toBe(false);
    expect(parseResponse([b('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n')]).keepAlive).toBe(false);
    expect(parseResponse([b('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n')]).keepAlive).toBe(true);
  });

  it('keeps obs-text bytes in header values byte for byte', () => {
    const r = parseResponse([b('HTTP/1.1 200 OK\r\nX-Name: caf\xe9\r\nContent-Length: 0\r\n\r\n')]);
    expect(r.headers).toEqual(['x-name', 'caf\xe9', 'content-length', '0']);
  });
});

describe('ResponseParser rejects ambiguous or malformed responses with a protocol error', () => {
  const cases: [string, string][] = [
    ['Transfer-Encoding with Content-Length (RFC 9112 §6.3)', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'],
    ['repeated Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
    ['non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\nabc'],
    ['negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['bare LF line endings', 'HTTP/1.1 200 OK\nContent-Length: 0\n\n'],
    ['bare CR inside a header value', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n'],
    ['obs-fold continuation line (RFC 9112 §5.2)', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n'],
    ['whitespace before the colon (RFC 9112 §5.1)', 'HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 0\r\n\r\n'],
    ['NUL in a header value', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n'],
    ['unsupported transfer coding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'],
    ['invalid chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk size overflow', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n'],
    ['missing CRLF after chunk data', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n'],
    ['an unrequested 101', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'],
    ['an invalid status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['a three-digit status out of range', 'HTTP/1.1 099 Odd\r\n\r\n'],
    ['bytes after a complete response', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naEXTRA'],
  ];
  for (const [name, raw] of cases) {
    it(`rejects ${name}`, () => {
      expect(parseResponse([b(raw)]).error).toBe('upstream_protocol_error');
    });
  }

  it('rejects a head larger than the limit', () => {
    const raw = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`;
    expect(parseResponse([b(raw)], { maxHead: 1024 }).error).toBe('upstream_protocol_error');
  });

  it('reports a close before any byte as a reset before the response', () => {
    expect(parseResponse([], { eof: true }).error).toBe('upstream_reset_before_response');
  });

  it('reports a close inside a Content-Length body as a mid-response reset', () => {
    expect(parseResponse([b('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')], { eof: true }).error).toBe('upstream_reset_mid_response');
  });

  it('reports a close inside a chunked body as a mid-response reset', () => {
    expect(parseResponse([b('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab')], { eof: true }).error).toBe('upstream_reset_mid_response');
  });
});

describe('ResponseParser is split-invariant', () => {
  // Property: any split of the same bytes into reads yields exactly what the whole buffer yields.
  const corpus = [
    'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n',
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnop',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY',
  ];
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (const [i, raw] of corpus.entries()) {
    it(`gives the same result for 200 random splits of corpus[${i}]`, () => {
      const whole = parseResponse([b(raw)], { eof: true });
      for (let round = 0; round < 200; round++) {
        const parts: Buffer[] = [];
        let pos = 0;
        while (pos < raw.length) {
          const n = 1 + Math.floor(random() * Math.min(8, raw.length - pos));
          parts.push(b(raw.slice(pos, pos + n)));
          pos += n;
        }
        expect(parseResponse(parts, { eof: true })).toEqual(whole);
      }
    });
  }
});
