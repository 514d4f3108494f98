// Streaming with backpressure keeps memory bounded: the proxy's resident set may not grow by more than 32 MiB
// while 256 MiB pass through it toward a side that reads more slowly than the other side writes.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { slowDownload } from '../helpers/slow-download.ts';
import { type Server, startEchoServer } from '../helpers/upstreams.ts';

const TOTAL = 256 << 20;
const MAX_GROWTH = 32 << 20;

let echo: Server;
let slowSink: { port: number; close(): void };
let proxy: ProxyProcess;
let port: number;

/** An upstream that reads a Content-Length upload slowly (a pause every 4 MiB), then answers with the count. */
function startSlowSink(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((socket) => {
    let head = '';
    let expected = -1;
    let received = 0;
    let mark = 0;
    socket.on('data', (d: Buffer) => {
      let body = d;
      if (expected < 0) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        expected = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? '0');
        body = Buffer.from(head.slice(end + 4), 'latin1');
      }
      received += body.length;
      if (received - mark >= 4 << 20) {
        mark = received;
        socket.pause();
        setTimeout(() => socket.resume(), 25);
      }
      if (received >= expected) socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${String(received).length}\r\n\r\n${received}`);
    });
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, close: () => server.close() })),
  );
}

beforeAll(async () => {
  echo = await startEchoServer();
  slowSink = await startSlowSink();
  proxy = await startProxy(
    edgeConfig(
      ['{ match: { path: { prefix: /upload } }, cluster: sink, timeoutMs: 120000 }', '{ match: { path: { prefix: / } }, cluster: echo, timeoutMs: 120000 }'],
      { echo: echo.port, sink: slowSink.port },
    ),
  );
  port = proxy.port('edge');
  // Warm up code paths and pools so the baseline includes them.
  await request({ port, path: '/bytes/1048576' });
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
  slowSink?.close();
});

/** Samples the proxy's RSS every 20 ms while `work` runs; returns the peak growth over the starting RSS. */
async function peakGrowth(work: () => Promise<void>): Promise<number> {
  const base = proxy.rssBytes();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, proxy.rssBytes());
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, proxy.rssBytes()) - base;
}

describe('backpressure bounds the proxy’s memory', () => {
  // Each download is decoded strictly (framing and every byte): a lost chunk must fail, not just shrink a count.
  it('streams a 256 MiB Content-Length response to a slow client with < 32 MiB RSS growth', async () => {
    let result = { bodyBytes: 0, complete: false, error: 'not run', head: '' };
    const growth = await peakGrowth(async () => {
      result = await slowDownload(port, `/bytes/${TOTAL}`);
    });
    expect(result).toMatchObject({ bodyBytes: TOTAL, complete: true, error: '' });
    expect(growth).toBeLessThan(MAX_GROWTH);
  }, 120_000);

  // On uWS this once lost whole chunks (about 1 run in 5 to 8): uWS drops a write that overflows a cork whose
  // flush the kernel refused. The uWS engine now sizes every chunked write to its cork (core/http/uws-cork.ts).
  it('streams a 256 MiB chunked response to a slow client with < 32 MiB RSS growth', async () => {
    let result = { bodyBytes: 0, complete: false, error: 'not run', head: '' };
    const growth = await peakGrowth(async () => {
      result = await slowDownload(port, `/chunked/${TOTAL}`);
    });
    expect(result).toMatchObject({ bodyBytes: TOTAL, complete: true, error: '' });
    expect(growth).toBeLessThan(MAX_GROWTH);
  }, 120_000);

  // Chunks of mixed sizes put several chunks in one proxy read and split others across reads: the case where
  // the old uWS write path lost data most often (5 of 8 runs in a bare uWS reproduction).
  it('streams a 128 MiB response of mixed-size chunks to a slow client byte for byte', async () => {
    const total = 128 << 20;
    const result = await slowDownload(port, `/mixed/${total}`);
    expect(result).toMatchObject({ bodyBytes: total, complete: true, error: '' });
  }, 120_000);

  // Known limit of the uWS engine (README, DESIGN.md §4): res.pause() is not honoured while the client keeps the
  // receive queue full — uSockets reads again whenever a read filled its 512 KiB buffer, without checking the
  // pause (strace: recvfrom goes on after the socket left epoll; up to 84 MB in one 668 ms pause) — so upload
  // memory cannot be bounded from JavaScript. The `net` engine owns its socket and must pass. On uWS the test is skipped: it was an
  // `it.fails`, but on a loaded machine the client is sometimes slow enough for uWS to stay under the bound, and
  // the "expected failure" then failed CI (seen 1 time in about 25 runs under load).
  const uploadTest = it.skipIf(testEngine() === 'uws');
  uploadTest(
    'streams a 256 MiB upload to a slow upstream with < 32 MiB RSS growth (uWS: known limit)',
    async () => {
      const block = Buffer.alloc(1 << 20, 0x75);
      let answer = '';
      const growth = await peakGrowth(
        () =>
          new Promise<void>((resolve, reject) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: ${TOTAL}\r\nConnection: close\r\n\r\n`);
              let sent = 0;
              const pump = () => {
                while (sent < TOTAL) {
                  sent += block.length;
                  if (!s.write(block)) {
                    s.once('drain', pump);
                    return;
                  }
                }
              };
              pump();
            });
            s.on('data', (d: Buffer) => {
              answer += d.toString();
            });
            s.on('error', reject);
            s.on('close', () => resolve());
          }),
      );
      expect(answer).toMatch(new RegExp(`^HTTP/1\\.1 200 [\\s\\S]*\\r\\n\\r\\n${TOTAL}$`));
      expect(growth).toBeLessThan(MAX_GROWTH);
    },
    120_000,
  );
});
