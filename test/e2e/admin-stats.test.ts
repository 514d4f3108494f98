// /stats asks the workers for their counters when it is read (nothing is pushed on a timer, so an idle worker
// never wakes): what it shows is current, and a worker too busy to answer in time is reported as of its last
// answer and named in `staleWorkers` instead of holding the read up.

import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { adminGet } from '../helpers/admin.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';

// Holds its worker's event loop for the milliseconds the request's x-block header says: a filter doing long
// synchronous work. x-garbage: that many hundred thousand short-lived objects, for the young generation to fill.
const blockModule = join(tmpdir(), `mantou-block-${process.pid}.ts`);
writeFileSync(
  blockModule,
  `import { defineFilter, T } from 'mantou';
let sink: unknown = null;
export const lastGarbage = () => sink;
export default defineFilter({
  name: 'block',
  config: T.Object({}),
  create: () => ({
    onRequest(req) {
      const until = Date.now() + Number(req.headers.get('x-block') ?? 0);
      while (Date.now() < until) {}
      // Each object escapes to a module variable (else the optimizer removes the allocation) and dies at the next.
      for (let i = 0; i < Number(req.headers.get('x-garbage') ?? 0) * 100_000; i++) sink = { i, s: \`x\${i}\` };
    },
  }),
});
`,
);

interface Stats {
  streams: number;
  inflight: number;
  staleWorkers?: number[];
  gcCollections: number;
  gcPauseMs: number;
  gcMajorCollections: number;
  gcMajorPauseMs: number;
  gcLongestPauseMs: number;
  supervisorGc: { gcCollections: number; gcPauseMs: number; gcLongestPauseMs: number };
}

async function stats(proxy: ProxyProcess): Promise<{ stats: Stats; ms: number }> {
  const started = performance.now();
  const r = await adminGet(proxy.adminPort, '/stats');
  expect(r.status).toBe(200);
  return { stats: JSON.parse(r.body) as Stats, ms: performance.now() - started };
}

describe('admin /stats', () => {
  let proxy: ProxyProcess;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('counts every finished stream at once, and names a worker too busy to answer', async () => {
    proxy = await startProxy(edgeConfig(['{ directResponse: { status: 200, body: ok } }'], {}, 1, [`filters: [{ name: block, module: ${blockModule} }]`]));
    for (let i = 0; i < 25; i++) expect((await request({ port: proxy.port('edge'), path: '/' })).status).toBe(200);
    // Pushed once a second, the counters read here were those of up to a second ago: 0 in the first second.
    await new Promise((r) => setTimeout(r, 50));
    const fresh = await stats(proxy);
    expect(fresh.stats.streams).toBe(25);
    expect(fresh.stats.staleWorkers).toBeUndefined();

    const blocked = request({ port: proxy.port('edge'), path: '/', headers: { 'x-block': '1500' } });
    await new Promise((r) => setTimeout(r, 200));
    const busy = await stats(proxy);
    expect(busy.stats.staleWorkers).toEqual([0]);
    expect(busy.stats.streams).toBe(25);
    // Not held up for the 1.5 s the worker is busy: the supervisor waits 250 ms for an answer.
    expect(busy.ms).toBeLessThan(1000);

    expect((await blocked).status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    const after = await stats(proxy);
    expect(after.stats.staleWorkers).toBeUndefined();
    expect(after.stats.streams).toBe(26);
    expect(after.stats.inflight).toBe(0);
  }, 20_000);

  it("reports the workers' garbage collections: their count, pauses and the longest", async () => {
    const before = (await stats(proxy)).stats;
    expect(typeof before.gcCollections).toBe('number');
    // The main thread's own, apart: it allocates nothing per request, so the garbage below is not counted there.
    expect(typeof before.supervisorGc.gcCollections).toBe('number');
    for (let i = 0; i < 10; i++) {
      expect((await request({ port: proxy.port('edge'), path: '/', headers: { 'x-garbage': '5' } })).status).toBe(200);
    }
    const after = (await stats(proxy)).stats;
    // 10 × 500,000 small arrays and objects: far more than a young generation holds, so scavenges ran.
    expect(after.gcCollections).toBeGreaterThan(before.gcCollections);
    expect(after.gcPauseMs).toBeGreaterThan(before.gcPauseMs);
    expect(after.gcLongestPauseMs).toBeGreaterThan(0);
    expect(after.gcLongestPauseMs).toBeLessThanOrEqual(after.gcPauseMs);
    expect(after.gcMajorPauseMs).toBeLessThanOrEqual(after.gcPauseMs);
    expect(after.gcMajorCollections).toBeLessThanOrEqual(after.gcCollections);
  }, 20_000);
});
