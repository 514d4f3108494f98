// The bench's request bytes: what the open-loop generator sends for each scenario must be a valid request, and a
// chunked upload must decode (with the proxy's own strict decoder) back to the scenario's body.

import { describe, expect, it } from 'vitest';
import { requestBytes, scenarios } from '../../../bench/scenarios.ts';
import { ChunkedDecoder } from '../../../core/http/chunked-decoder.ts';

describe('bench scenarios', () => {
  it('frames the chunked upload in chunks of its size, decodable back to its body', () => {
    const s = scenarios.find((x) => x.name === 'post-64k-chunked');
    expect(s?.optIn).toBe(true);
    const bytes = requestBytes(s as NonNullable<typeof s>);
    const headEnd = bytes.indexOf('\r\n\r\n') + 4;
    const head = bytes.subarray(0, headEnd).toString('latin1');
    expect(head).toMatch(/\r\ntransfer-encoding: chunked\r\n/);
    expect(head).not.toMatch(/content-length/i);
    const decoder = new ChunkedDecoder();
    decoder.reset(1024);
    const pieces: Buffer[] = [];
    for (let pos = headEnd; !decoder.done; ) {
      pos = decoder.decode(bytes, pos);
      expect(pos).toBeGreaterThan(0);
      if (decoder.data !== null) pieces.push(Buffer.from(decoder.data));
    }
    expect(pieces.map((p) => p.length)).toEqual([16384, 16384, 16384, 16384]);
    expect(Buffer.concat(pieces).equals(s?.body as Buffer)).toBe(true);
  });

  it('gives the other uploads a Content-Length, and keeps opt-in scenarios out of the default run', () => {
    const s = scenarios.find((x) => x.name === 'post-64k');
    const bytes = requestBytes(s as NonNullable<typeof s>);
    expect(bytes.subarray(0, bytes.indexOf('\r\n\r\n')).toString('latin1')).toMatch(/\r\ncontent-length: 65536$/);
    expect(bytes.length - bytes.indexOf('\r\n\r\n') - 4).toBe(65536);
    expect(scenarios.filter((x) => x.optIn === true).map((x) => x.name)).toEqual(['get-1m-chunked', 'post-64k-chunked']);
  });
});
