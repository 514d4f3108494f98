import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../../core/http/header-list.ts';
import { RequestHead } from '../../../../core/http/request-head.ts';
import { encodeChunkHeader, encodeRequestHead } from '../../../../core/upstream/request-encoder.ts';

const head = (method: string, cl: number, chunked: boolean, query = '') =>
  new RequestHead(method, '/a/b', query, new HeaderList(['host', 'example.com', 'x-a', 'caf\xe9']), cl, chunked);

describe('encodeRequestHead', () => {
  it('writes the request line, every header and Content-Length framing in one buffer', () => {
    expect(encodeRequestHead(head('POST', 5, false, 'q=1')).toString('latin1')).toBe(
      'POST /a/b?q=1 HTTP/1.1\r\nhost: example.com\r\nx-a: caf\xe9\r\ncontent-length: 5\r\n\r\n',
    );
  });

  it('frames a chunked body with Transfer-Encoding: chunked', () => {
    expect(encodeRequestHead(head('PUT', -1, true)).toString('latin1')).toContain('transfer-encoding: chunked\r\n\r\n');
  });

  it('sends no framing for a GET without a body, and Content-Length: 0 for an empty POST', () => {
    expect(encodeRequestHead(head('GET', -1, false)).toString('latin1')).toMatch(/x-a: caf\xe9\r\n\r\n$/);
    expect(encodeRequestHead(head('POST', 0, false)).toString('latin1')).toContain('content-length: 0\r\n\r\n');
  });

  it('keeps obs-text bytes as single bytes (latin1), not UTF-8', () => {
    const buf = encodeRequestHead(head('GET', -1, false));
    expect(buf.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe(true);
  });

  it('encodes chunk sizes in hex', () => {
    expect(encodeChunkHeader(255).toString()).toBe('ff\r\n');
  });
});
