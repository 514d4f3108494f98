import { describe, expect, it } from 'vitest';
import { HeaderList } from '../../../../core/http/header-list.ts';
import { RequestHead } from '../../../../core/http/request-head.ts';
import { encodeChunkHeader, requestHeadText } from '../../../../core/upstream/request-encoder.ts';

const head = (method: string, cl: number, chunked: boolean, query = '') =>
  new RequestHead(method, '/a/b', query, new HeaderList(['host', 'example.com', 'x-a', 'caf\xe9']), cl, chunked);

describe('requestHeadText', () => {
  it('writes the request line, every header and Content-Length framing in one buffer', () => {
    expect(requestHeadText(head('POST', 5, false, 'q=1'))).toBe('POST /a/b?q=1 HTTP/1.1\r\nhost: example.com\r\nx-a: caf\xe9\r\ncontent-length: 5\r\n\r\n');
  });

  it('frames a chunked body with Transfer-Encoding: chunked', () => {
    expect(requestHeadText(head('PUT', -1, true))).toContain('transfer-encoding: chunked\r\n\r\n');
  });

  it('sends no framing for a GET without a body, and Content-Length: 0 for an empty POST', () => {
    expect(requestHeadText(head('GET', -1, false))).toMatch(/x-a: caf\xe9\r\n\r\n$/);
    expect(requestHeadText(head('POST', 0, false))).toContain('content-length: 0\r\n\r\n');
  });

  it('keeps obs-text bytes as single bytes when written as latin1, not UTF-8', () => {
    const buf = Buffer.from(requestHeadText(head('GET', -1, false)), 'latin1');
    expect(buf.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toBe(true);
  });

  it('encodes chunk sizes in hex', () => {
    expect(encodeChunkHeader(255).toString()).toBe('ff\r\n');
  });
});
