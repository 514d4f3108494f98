import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMajorGc, openLoop } from '../../../bench/open-loop.ts';

// The open-loop generator over a real loopback server: a round in which the generator's own process runs a major GC
// is measured again, so the generator's collections do not read as the server's tail.
let server: http.Server;
let port = 0;
const request = Buffer.from('GET / HTTP/1.1\r\nhost: t\r\n\r\n');

beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('open-loop generator', () => {
  it('measures every request of a quiet round once', async () => {
    // The test process's own major collections, counted beside the generator's check: inside the full suite the
    // runner's heap can start one during this round, and then a re-measure is right.
    let majorGcs = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (isMajorGc(e)) majorGcs++;
    });
    observer.observe({ entryTypes: ['gc'] });
    const r = await openLoop({ port, rate: 500, durationMs: 200, connections: 4, request, newConnection: false });
    await new Promise((resolve) => setImmediate(resolve));
    observer.disconnect();
    expect(r.errors).toBe(0);
    expect(r.completed).toBe(r.sent);
    expect(r.sent).toBeGreaterThanOrEqual(90);
    expect(r.histogram.totalCount).toBe(r.completed);
    // No collection, no re-measure; never more re-measures than collections.
    expect(r.remeasured).toBeLessThanOrEqual(majorGcs);
    if (majorGcs === 0) expect(r.remeasured).toBe(0);
    r.histogram.destroy();
  });

  it('measures a round again when the generator ran a major GC inside it', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // One full collection, 50 ms into the first attempt only.
    const timer = setTimeout(gc, 50);
    const samples: number[] = [];
    const startedAt = performance.timeOrigin + performance.now();
    const r = await openLoop({ port, rate: 500, durationMs: 200, connections: 4, request, newConnection: false, samples });
    clearTimeout(timer);
    // At least once: the test runner's own collections may add one.
    expect(r.remeasured).toBeGreaterThanOrEqual(1);
    // The result is the clean second attempt's alone, not the two added up.
    expect(r.histogram.totalCount).toBe(r.completed);
    expect(r.completed).toBeLessThan(150);
    // The samples (due time, latency) are that attempt's too: one pair per completed request, in epoch ms, due
    // after the first attempt began, each latency as the histogram got it.
    expect(samples.length).toBe(2 * r.completed);
    expect(samples[0]).toBeGreaterThan(startedAt + 50);
    for (let i = 1; i < samples.length; i += 2) expect(samples[i]).toBeGreaterThanOrEqual(1);
    // (The histogram keeps three significant digits: its maximum is the sample's within 0.1%.)
    const slowest = Math.max(...samples.filter((_, i) => i % 2 === 1));
    expect(Math.abs(slowest - r.histogram.maxValue)).toBeLessThanOrEqual(slowest * 0.001 + 1);
    r.histogram.destroy();
  });
  it('keeps a round with a major GC inside when mayRepeat says no, and says so', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const timer = setTimeout(gc, 50);
    let asked = 0;
    const mayRepeat = () => {
      asked++;
      return false;
    };
    const r = await openLoop({ port, rate: 500, durationMs: 200, connections: 4, request, newConnection: false, mayRepeat });
    clearTimeout(timer);
    expect(asked).toBe(1);
    expect(r.remeasured).toBe(0);
    expect(r.majorGcInside).toBe(true);
    // The one round, whole: about 100 requests due in 200 ms at 500/s.
    expect(r.completed).toBeGreaterThan(80);
    r.histogram.destroy();
  });
});
