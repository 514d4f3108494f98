import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BenchUpstream, startBenchUpstream } from '../../../bench/upstream.ts';

/** Sends `bytes` on one connection and collects everything until the server closes or `quietMs` pass. */
function exchange(port: number, bytes: string | Buffer, quietMs = 300): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let out = '';
    let timer = setTimeout(() => s.destroy(), quietMs);
    s.on('data', (d) => {
      out += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(() => s.destroy(), quietMs);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', reject);
  });
}

describe('the bench upstream', () => {
  let upstream: BenchUpstream;
  beforeAll(async () => {
    upstream = await startBenchUpstream();
  });
  afterAll(() => upstream.stop());

  it('answers sized, chunked (empty too) and default bodies on one keep-alive connection, in order', async () => {
    const out = await exchange(
      upstream.port,
      'GET /size/5 HTTP/1.1\r\nhost: a\r\n\r\nGET /chunked/3 HTTP/1.1\r\nhost: a\r\n\r\nGET /chunked/0 HTTP/1.1\r\nhost: a\r\n\r\nGET / HTTP/1.1\r\nhost: a\r\n\r\n',
    );
    const answers = out.split('HTTP/1.1 200 OK\r\n').slice(1);
    expect(answers).toHaveLength(4);
    expect(answers[0]).toMatch(/content-length: 5\r\n(?:.*\r\n)*\r\nxxxxx$/i);
    expect(answers[1]).toMatch(/transfer-encoding: chunked\r\n(?:.*\r\n)*\r\n3\r\nxxx\r\n0\r\n\r\n$/i);
    expect(answers[2]).toMatch(/transfer-encoding: chunked\r\n(?:.*\r\n)*\r\n0\r\n\r\n$/i);
    expect(answers[3]).toMatch(/\r\n\r\nhello, world\n$/);
  });

  it('reads sized and chunked request bodies to the end before answering', async () => {
    const big = 'p'.repeat(200_000);
    const out = await exchange(
      upstream.port,
      `POST /size/2 HTTP/1.1\r\ncontent-length: ${big.length}\r\n\r\n${big}POST /size/3 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nx-trailer: 1\r\n\r\nGET /size/1 HTTP/1.1\r\n\r\n`,
    );
    expect(out.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(3);
    expect(out).toMatch(/\r\n\r\nxx(?=HTTP)/);
    expect(out).toMatch(/\r\n\r\nxxx(?=HTTP)/);
    expect(out.endsWith('\r\n\r\nx')).toBe(true);
  });

  it('writes a large body whole and closes when the request asks to', async () => {
    const out = await exchange(upstream.port, 'GET /size/1048576 HTTP/1.1\r\nconnection: close\r\n\r\n', 2000);
    const [head, body] = out.split('\r\n\r\n');
    expect(head).toMatch(/connection: close/i);
    expect(body).toHaveLength(1_048_576);
  });
});
