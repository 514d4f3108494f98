// Graceful drain and crash recovery through the real CLI: SIGTERM lets in-flight requests finish and exits 0,
// a second signal exits at once, the drain timeout bounds the wait, and a crashed worker is restarted.

import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { adminGet, adminPost, configDump } from '../helpers/admin.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { startEchoServer, startRawUpstream } from '../helpers/upstreams.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** An upstream that answers each request after `delayMs` (never, when negative); `chunked`: in three chunks. */
async function slowUpstream(delayMs: number, chunked = false) {
  const answer = chunked
    ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n1\r\n-\r\n7\r\nchunked\r\n0\r\n\r\n'
    : 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow';
  const raw = await startRawUpstream((socket) => {
    if (delayMs >= 0) setTimeout(() => socket.write(answer), delayMs);
  });
  cleanups.push(() => raw.close());
  return raw;
}

async function proxyFor(upstreamPort: number, drain: string, env: NodeJS.ProcessEnv = {}, extra = ''): Promise<ProxyProcess> {
  const yaml = `${edgeConfig(['{ match: { path: { prefix: / } }, cluster: up, timeoutMs: 60000 }'], { up: upstreamPort }, 2)}drain: ${drain}\n${extra}`;
  const proxy = await startProxy(yaml, env);
  cleanups.push(() => proxy.stop());
  return proxy;
}

const exitCode = (p: ProxyProcess) =>
  new Promise<number | null>((resolve) => (p.child.exitCode !== null ? resolve(p.child.exitCode) : p.child.once('exit', (c) => resolve(c))));

describe('graceful drain', () => {
  it('fails /ready at once, finishes every in-flight request with Connection: close, then exits 0', async () => {
    const up = await slowUpstream(600);
    const proxy = await proxyFor(up.port, '{ delayMs: 100, timeoutMs: 10000 }');
    const port = proxy.port('edge');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    const inflight = Array.from({ length: 10 }, (_, i) => request({ port, path: `/r${i}`, agent: i % 2 === 0 ? agent : false }));
    await new Promise((r) => setTimeout(r, 200));
    const exited = exitCode(proxy);
    proxy.child.kill('SIGTERM');
    await expect.poll(async () => (await adminGet(proxy.adminPort, '/ready')).status, { timeout: 2000 }).toBe(503);
    const results = await Promise.all(inflight);
    agent.destroy();
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.every((r) => r.body.toString() === 'slow')).toBe(true);
    expect(results.every((r) => r.headers.connection === 'close')).toBe(true);
    expect(await exited).toBe(0);
  });

  // The head of each response is written while draining, so it says Connection: close. uWS used to be asked to
  // close at the end of such a chunked response too, and then wrote "Connection: close" into its body.
  it('finishes in-flight chunked responses with their framing intact', async () => {
    const up = await slowUpstream(600, true);
    const proxy = await proxyFor(up.port, '{ delayMs: 100, timeoutMs: 10000 }');
    const port = proxy.port('edge');
    // Keep-alive requests: one that asked to close was already safe (uWS then writes no header of its own).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const inflight = Array.from({ length: 4 }, (_, i) => request({ port, path: `/c${i}`, agent }));
    await new Promise((r) => setTimeout(r, 200));
    const exited = exitCode(proxy);
    proxy.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    agent.destroy();
    expect(results.map((r) => [r.status, r.headers.connection, r.headers['transfer-encoding'], r.body.toString()])).toEqual(
      Array(4).fill([200, 'close', 'chunked', 'slow-chunked']),
    );
    expect(await exited).toBe(0);
  });

  it('stops waiting at the drain timeout and still exits 0', async () => {
    const up = await slowUpstream(-1);
    const proxy = await proxyFor(up.port, '{ timeoutMs: 500 }');
    const hung = request({ port: proxy.port('edge'), path: '/hang' }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    const exited = exitCode(proxy);
    proxy.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await hung).toBeInstanceOf(Error);
  });

  it('exits at once on a second signal', async () => {
    const up = await slowUpstream(-1);
    const proxy = await proxyFor(up.port, '{ timeoutMs: 60000 }');
    void request({ port: proxy.port('edge'), path: '/hang' }).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const exited = exitCode(proxy);
    const t0 = performance.now();
    proxy.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    proxy.child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('drains on POST /drain from the admin port', async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const proxy = await proxyFor(echo.port, '{ timeoutMs: 5000 }');
    const exited = exitCode(proxy);
    expect((await adminPost(proxy.adminPort, '/drain')).status).toBe(202);
    expect(await exited).toBe(0);
  });
});

describe('worker crash recovery', () => {
  it('restarts a crashed worker with backoff while the other keeps serving', async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const proxy = await proxyFor(echo.port, '{ timeoutMs: 5000 }', { MANTOU_TEST_HOOKS: '1' });
    const port = proxy.port('edge');
    expect((await adminPost(proxy.adminPort, '/debug/crash-worker?index=0')).status).toBe(202);
    // Connections queued on the crashing worker's listen socket at that instant are lost with it (a closed
    // reusePort socket drops its queue); once the crash is seen, every new connection must be served.
    await expect.poll(async () => (await configDump(proxy.adminPort)).counters.workerRestarts).toBe(1);
    for (let i = 0; i < 20; i++) expect((await request({ port, path: `/during/${i}`, headers: { connection: 'close' } })).status).toBe(200);
    await expect
      .poll(async () => {
        const d = await configDump(proxy.adminPort);
        return d.workers[0]?.restarts === 1 && d.workers[0]?.alive === true;
      })
      .toBe(true);
    await expect.poll(async () => (await adminGet(proxy.adminPort, '/ready')).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await request({ port, path: `/after/${i}`, headers: { connection: 'close' } })).status).toBe(200);
    expect(proxy.output()).toContain('worker exited unexpectedly: restarting');
    expect(proxy.output()).toContain('"reason":"crashed: crash requested by a test hook"');
  });
});

describe('worker heap limit', () => {
  it('restarts a worker that leaks past its heap limit, and the process keeps serving', async () => {
    const echo = await startEchoServer();
    cleanups.push(() => echo.close());
    const proxy = await proxyFor(echo.port, '{ timeoutMs: 5000 }', { MANTOU_TEST_HOOKS: '1' }, 'workerHeapMb: 64\n');
    const port = proxy.port('edge');
    expect((await adminPost(proxy.adminPort, '/debug/leak-worker?index=0')).status).toBe(202);
    await expect.poll(async () => (await configDump(proxy.adminPort)).counters.workerRestarts, { timeout: 20_000 }).toBe(1);
    // The supervisor logs the reason the worker posted (the worker's own log line may not flush before it exits);
    // its line can reach stdout just after the admin port has counted the restart.
    await expect.poll(() => proxy.output()).toMatch(/"reason":"heap limit reached \(\d+ of 67108864 bytes used\)"/);
    await expect.poll(async () => (await adminGet(proxy.adminPort, '/ready')).status, { timeout: 10_000 }).toBe(200);
    for (let i = 0; i < 10; i++) expect((await request({ port, path: `/after-leak/${i}`, headers: { connection: 'close' } })).status).toBe(200);
    expect(proxy.child.exitCode).toBeNull();
  }, 40_000);
});
