// After start-up and after each reload the supervisor gives the C heap's free pages back to the system
// (core/malloc-trim.ts): the debug log says how much resident memory the process had before and after.

import { afterAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { waitFor } from '../helpers/tcp-peers.ts';

interface TrimLine {
  when: string;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  ms: number;
}

function trims(proxy: ProxyProcess): TrimLine[] {
  return proxy
    .output()
    .split('\n')
    .filter((l) => l.includes('"component":"memory"'))
    .map((l) => JSON.parse(l) as TrimLine);
}

describe('the C heap trimmed after start-up and reloads', () => {
  let proxy: ProxyProcess | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('trims once the workers are up, and again after a SIGHUP, without dropping the listener', async () => {
    proxy = await startProxy(edgeConfig(['{ directResponse: { status: 200, body: ok } }'], {}, 1), { MANTOU_LOG_LEVEL: 'debug' });
    const atStart = trims(proxy);
    expect(atStart.map((t) => t.when)).toEqual(['start']);
    const start = atStart[0] as TrimLine;
    // Start-up leaves megabytes of freed compiler memory behind: the trim gives some back, and never adds.
    expect(start.rssAfterMiB).toBeLessThan(start.rssBeforeMiB);
    expect(start.ms).toBeLessThan(500);
    process.kill(proxy.pid, 'SIGHUP');
    const p = proxy;
    await waitFor(() => trims(p).some((t) => t.when === 'reload'));
    expect((await request({ port: proxy.port('edge'), path: '/' })).status).toBe(200);
  }, 20_000);
});
