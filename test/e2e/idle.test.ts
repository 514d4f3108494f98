// An idle proxy sleeps. A sidecar sits idle most of its life beside thousands of others, and on a worker's core
// every wake-up is one the next request may wait behind: once, a 100 ms heap check, a per-cluster sweep timer,
// uWebSockets.js's Date timer (loaded though no listener used it), stats posted unchanged and a config file
// re-read for a watch that was off woke its threads about 13 times a second, and the native engine's deadline
// sweep 4 more while its clients kept idle keep-alive connections open.

import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';

/** Times each thread of `pid` went to sleep (voluntary context switches), by thread id. */
function sleepsByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      out.set(tid, Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('an idle proxy', () => {
  let proxy: ProxyProcess;
  let upstream: http.Server;
  const agent = new http.Agent({ keepAlive: true });
  afterAll(async () => {
    agent.destroy();
    await proxy?.stop();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream?.close(() => r()));
  });

  it('wakes about once a second in all (the worker reporting its stats), idle keep-alive connections open', async () => {
    upstream = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startProxy(
      [
        'workers: 1',
        'listeners:',
        '  - name: edge',
        '    address: 127.0.0.1',
        '    port: 0',
        '    routes:',
        '      - { match: { path: { prefix: /direct } }, directResponse: { status: 200, body: ok } }',
        '      - { cluster: app }',
        'clusters:',
        '  - name: app',
        `    endpoints: [{ address: 127.0.0.1, port: ${(upstream.address() as net.AddressInfo).port} }]`,
        // Past the window: an idle upstream connection's deadline is not due in it.
        '    idleTimeoutMs: 60000',
      ].join('\n'),
    );
    expect((await request({ port: proxy.port('edge'), path: '/direct' })).status).toBe(200);
    // Two keep-alive client connections and the upstream connection stay open, idle, through the window: the
    // native engine's deadline sweep used to tick four times a second while any connection was open.
    const get = (path: string) =>
      new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: proxy.port('edge'), path, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject);
      });
    expect(await Promise.all([get('/a'), get('/b')])).toEqual([200, 200]);
    // The request's stats go out on the next tick; start-up's compilations finish.
    await sleep(2500);
    const before = sleepsByThread(proxy.pid);
    const windowMs = 4000;
    await sleep(windowMs);
    const after = sleepsByThread(proxy.pid);
    let wakeUps = 0;
    for (const [tid, n] of after) wakeUps += n - (before.get(tid) ?? 0);
    // About 4 expected (one stats tick a second, nothing changed, so nothing posted to the supervisor); the
    // timers this replaced made more than 50 in the same window. The slack is for a stray compile or GC task.
    expect(wakeUps, `${wakeUps} wake-ups in ${windowMs} ms`).toBeLessThanOrEqual(14);
  }, 20_000);
});
