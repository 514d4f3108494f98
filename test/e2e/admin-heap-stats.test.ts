// /stats shows the workers' heaps: the JavaScript heap in use (what workerHeapMb limits) and the young generation,
// at least 8 MiB a worker (core/node-flags.ts, WORKER_V8_FLAGS: the floor V8 would otherwise shrink it below after
// a quiet spell; that shrinking is measured in the bench, as a worker's scavenges per round, not here); and the
// workers' TypeScript modules, all stripped by the main thread (core/type-stripping/), none by a worker's own stripper.

import { afterAll, describe, expect, it } from 'vitest';
import { adminGet } from '../helpers/admin.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';

interface HeapStats {
  heapUsedBytes: number;
  youngGenerationBytes: number;
  typeScriptModules: { byMainThread: number; local: number };
}

const MiB = 1024 * 1024;
const heap = async (proxy: ProxyProcess) => JSON.parse((await adminGet(proxy.adminPort, '/stats')).body) as HeapStats;

describe('the workers’ heap in /stats', () => {
  let proxy: ProxyProcess | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('sums the workers’ heaps, each young generation at 8 MiB or more', async () => {
    proxy = await startProxy(edgeConfig(['{ directResponse: { status: 200, body: ok } }'], {}, 2));
    expect((await request({ port: proxy.port('edge'), path: '/' })).status).toBe(200);
    const s = await heap(proxy);
    expect(s.youngGenerationBytes).toBeGreaterThanOrEqual(2 * 8 * MiB);
    // Two workers' heaps: more than a few MiB, well under the default 1 GiB limit each.
    expect(s.heapUsedBytes).toBeGreaterThan(2 * MiB);
    expect(s.heapUsedBytes).toBeLessThan(2 * 1024 * MiB);
  }, 20_000);

  it('counts the workers’ TypeScript modules: every one stripped by the main thread', async () => {
    const s = await heap(proxy as ProxyProcess);
    // Each of the two workers imports the data plane's modules (about ninety).
    expect(s.typeScriptModules.byMainThread).toBeGreaterThan(2 * 50);
    expect(s.typeScriptModules.local).toBe(0);
  });
});
