// The native engine's kept decisions (native/h1-cache.c) through the real proxy: a route to a one-endpoint cluster
// is decided once per method, host and path, and the requests served on that decision are still counted one by
// one (those that end well are only counted by the addon, and read when the stats are), follow a reload at once,
// and hold a draining worker until they are answered. A cluster of two endpoints is
// decided every time, so its load balancer still turns.

import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settledStreamStats, streamStatsUntil } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { type Server, startRawUpstream } from '../helpers/upstreams.ts';

/** An upstream that answers its own name; `/slow…` after 400 ms. */
async function named(name: string): Promise<Server> {
  return startRawUpstream((socket, head) => {
    const answer = () => socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${name.length}\r\n\r\n${name}`);
    if ((head.split(' ')[1] ?? '').startsWith('/slow')) setTimeout(answer, 400);
    else answer();
  });
}

let a: Server;
let b: Server;
let proxy: ProxyProcess;
let port: number;

function config(oneTo: Server): string {
  return `workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    engine: native
    routes:
      - { match: { path: { prefix: /two } }, cluster: two }
      - { match: { path: { prefix: / } }, cluster: one }
clusters:
  - name: one
    endpoints: [{ address: 127.0.0.1, port: ${oneTo.port} }]
  - name: two
    endpoints: [{ address: 127.0.0.1, port: ${a.port} }, { address: 127.0.0.1, port: ${b.port} }]
`;
}

const settled = () => settledStreamStats(proxy.adminPort);

beforeAll(async () => {
  a = await named('a');
  b = await named('b');
  proxy = await startProxy(config(a));
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await a?.close();
  await b?.close();
});

describe('kept decisions', () => {
  it('serves repeated requests to a one-endpoint route, each one counted', async () => {
    const before = await settled();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) bodies.push((await request({ port, path: '/same?q=1', agent })).body.toString());
    agent.destroy();
    expect(bodies).toEqual(Array(30).fill('a'));
    const after = await settled();
    expect(after.streams - before.streams).toBe(30);
    expect(after.nativeStreams - before.nativeStreams).toBe(30);
  });

  it('counts the exchanges that ended without a call into JavaScript when /stats is read: none left in flight', async () => {
    // An exchange served on a kept decision that ends well is only counted by the addon (native/h1-exchange.c
    // report_done); the worker reads the counts when asked for its stats. Without that read, these 30 would show
    // as started (counted when read too) and never finished.
    const before = await settled();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 30; i++) expect((await request({ port, path: '/quiet', agent })).status).toBe(200);
    agent.destroy();
    const after = await streamStatsUntil(proxy.adminPort, (s) => s.streams - before.streams === 30);
    expect(after.streams - before.streams).toBe(30);
    expect(after.inflight).toBe(0);
  });

  it('decides every request to a two-endpoint cluster: its round robin goes on', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await request({ port, path: '/two', agent })).body.toString());
    agent.destroy();
    expect(new Set(bodies)).toEqual(new Set(['a', 'b']));
    for (let i = 1; i < bodies.length; i++) expect(bodies[i]).not.toBe(bodies[i - 1]);
  });

  it('drops what it kept on a reload: the next request goes where the new config says', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect((await request({ port, path: '/moved', agent })).body.toString()).toBe('a');
    expect((await request({ port, path: '/moved', agent })).body.toString()).toBe('a');
    writeFileSync(proxy.configFile, config(b));
    proxy.child.kill('SIGHUP');
    await expect.poll(async () => (await request({ port, path: '/probe-reload' })).body.toString(), { timeout: 5000, interval: 100 }).toBe('b');
    // The same connection, the same request as before the reload: decided anew.
    expect((await request({ port, path: '/moved', agent })).body.toString()).toBe('b');
    agent.destroy();
    writeFileSync(proxy.configFile, config(a));
    proxy.child.kill('SIGHUP');
    await expect.poll(async () => (await request({ port, path: '/probe-reload' })).body.toString(), { timeout: 5000, interval: 100 }).toBe('a');
  });

  it('holds a draining worker until requests served on a kept decision are answered', async () => {
    const agents = Array.from({ length: 4 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
    // Each connection's first request is decided (and kept); the second, in flight at SIGTERM, is served on it.
    for (const agent of agents) expect((await request({ port, path: '/slow-same', agent })).body.toString()).toBe('a');
    const inflight = agents.map((agent) => request({ port, path: '/slow-same', agent }));
    await new Promise((r) => setTimeout(r, 150));
    const exited = new Promise<number | null>((resolve) => proxy.child.once('exit', (c) => resolve(c)));
    proxy.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    for (const agent of agents) agent.destroy();
    expect(results.map((r) => [r.status, r.body.toString(), r.headers.connection])).toEqual(Array(4).fill([200, 'a', 'close']));
    expect(await exited).toBe(0);
  });
});
