// bench/peers/upload-load.ts, the upload client of bench:offload, in a real child process against a real upstream
// on loopback: SIGTERM ends its load after the upload in flight and it still prints its counts, so that
// bench:offload can keep the uploads going for exactly as long as its probe runs (a re-measured probe round
// included) and still know how many went through.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const UPLOAD_LOAD = new URL('../../../bench/peers/upload-load.ts', import.meta.url).pathname;
const UPLOAD_BYTES = 1024 * 1024;

describe('bench upload load', () => {
  let server: Server;
  let port = 0;
  /** Body bytes of every upload the server saw end, in order. */
  const received: number[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('end', () => {
        received.push(n);
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('stops on SIGTERM after the upload in flight and prints its counts', async () => {
    // --ms far longer than the test: only the signal can end it in time.
    const args = [UPLOAD_LOAD, '--port', String(port), '--path', '/up', '--per-second', '20', '--ms', '600000', '--chunk', '65536'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Let a few uploads go through first.
    for (let waited = 0; received.length < 3 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    const killedAt = performance.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(performance.now() - killedAt).toBeLessThan(5_000);
    expect(code).toBe(0);
    const counts = JSON.parse(out.trim()) as { ok: number; other: number; spans: number[] };
    expect(counts.other).toBe(0);
    expect(counts.ok).toBeGreaterThanOrEqual(3);
    // Every upload it counted arrived whole: none was cut off by the signal.
    expect(received.length).toBe(counts.ok);
    expect(received.every((n) => n === UPLOAD_BYTES)).toBe(true);
    // Each upload's start and end (bench/offload.ts counts the slow GETs inside them), in order, in epoch ms.
    expect(counts.spans.length).toBe(2 * counts.ok);
    for (let i = 0; i < counts.spans.length; i += 2) {
      const [start, end, next] = [counts.spans[i] as number, counts.spans[i + 1] as number, counts.spans[i + 2]];
      expect(end).toBeGreaterThan(start);
      if (next !== undefined) expect(next).toBeGreaterThanOrEqual(end);
    }
    expect(Math.abs((counts.spans.at(-1) as number) - Date.now())).toBeLessThan(10_000);
  });

  it('with --window-ms, starts uploads only inside its loaded windows, which alternate with quiet ones', async () => {
    const before = received.length;
    const args = [UPLOAD_LOAD, '--port', String(port), '--path', '/up', '--per-second', '20', '--ms', '1400', '--window-ms', '200'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(0);
    const counts = JSON.parse(out.trim()) as { ok: number; other: number; spans: number[]; windows: number[] };
    expect(counts.other).toBe(0);
    expect(received.length - before).toBe(counts.ok);
    // 1.4 s of 200 ms windows: loaded ones at 0, 400, 800 and 1200 ms, each 200 ms long, a quiet one between.
    expect(counts.windows.length).toBe(8);
    for (let i = 0; i < counts.windows.length; i += 2) {
      const [start, end] = [counts.windows[i] as number, counts.windows[i + 1] as number];
      expect(end - start).toBeCloseTo(200, 2);
      if (i > 0) expect(start - (counts.windows[i - 1] as number)).toBeCloseTo(200, 2);
    }
    // Every upload began inside a loaded window (a millisecond of timer slack), and some began in each.
    const windowOf = (t: number) => {
      for (let i = 0; i < counts.windows.length; i += 2) if (t >= (counts.windows[i] as number) - 1 && t < (counts.windows[i + 1] as number) + 1) return i / 2;
      return -1;
    };
    const starts = counts.spans.filter((_, i) => i % 2 === 0);
    expect(starts.map(windowOf).filter((w) => w < 0)).toEqual([]);
    expect(new Set(starts.map(windowOf)).size).toBe(4);
  });
});
