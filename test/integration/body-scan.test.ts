// body-scan through the real proxy: bodies are scanned in the worker's offload pool and forwarded intact when
// clean; a match is 403, an oversized body 413, and a scan that runs away is cut at its deadline with 503
// (the pool thread is replaced) while the proxy keeps serving.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { json, request } from '../helpers/http-client.ts';
import type { EchoReply } from '../helpers/upstreams.ts';

const setup = echoProxy(`
workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: body-scan, config: { patterns: ["drop\\\\s+table", "(a+)+$"], maxBytes: 1048576, timeoutMs: 300 } }
    routes:
      - { match: { path: { prefix: /no-queue } }, cluster: echo, filters: { body-scan: { config: { patterns: ["(a+)+$"], timeoutMs: 500, maxQueue: 0 } } } }
      - { cluster: echo }
`);

describe('body-scan', () => {
  it('forwards a clean body intact after scanning it off the event loop', async () => {
    const body = Buffer.alloc(200 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = 0x30 + (i % 40);
    const res = await request({ port: setup.port, method: 'POST', path: '/clean', body: [body.subarray(0, 70_000), body.subarray(70_000)] });
    expect(res.status).toBe(200);
    const reply = json<EchoReply>(res);
    expect(reply.bodyBytes).toBe(body.length);
    expect(reply.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  it('forwards a clean megabyte, sized or chunked, intact with its Content-Length (written upstream in slices)', async () => {
    const body = Buffer.alloc(1024 * 1024 - 7);
    for (let i = 0; i < body.length; i++) body[i] = 0x61 + ((i * 7 + (i >> 12)) % 26);
    const digest = createHash('sha256').update(body).digest('hex');
    const parts = [body.subarray(0, 100_000), body.subarray(100_000, 700_000), body.subarray(700_000)];
    const [sized, chunked] = await Promise.all([
      request({ port: setup.port, method: 'POST', path: '/sized', body }),
      request({ port: setup.port, method: 'POST', path: '/chunked', body: parts }),
    ]);
    for (const res of [sized, chunked]) {
      expect(res.status).toBe(200);
      const reply = json<EchoReply>(res);
      expect(reply.headers['content-length']).toBe(String(body.length));
      expect(reply.headers['transfer-encoding']).toBeUndefined();
      expect(reply.bodyBytes).toBe(body.length);
      expect(reply.bodySha256).toBe(digest);
    }
  });

  it('answers 403 to a body that matches, and 413 to one over maxBytes, without contacting the upstream', async () => {
    const before = setup.echo.connections;
    const matched = await request({ port: setup.port, method: 'POST', path: '/x', body: Buffer.from('select 1; DROP   TABLE users;') });
    expect(matched.status).toBe(403);
    expect(matched.headers['x-mantou-local-reply']).toBe('body-scan');
    expect((await request({ port: setup.port, method: 'POST', path: '/x', body: Buffer.alloc(2 * 1024 * 1024, 0x20) })).status).toBe(413);
    expect(setup.echo.connections).toBe(before);
  });

  it('answers 503 at once when the pool is saturated (bounded queue), while it is busy', async () => {
    const runaway = request({ port: setup.port, method: 'POST', path: '/no-queue/a', body: Buffer.from(`${'a'.repeat(64)}b`) });
    await new Promise((r) => setTimeout(r, 100));
    const busy = await request({ port: setup.port, method: 'POST', path: '/no-queue/b', body: Buffer.from('x') });
    expect(busy.status).toBe(503);
    expect(busy.body.toString()).toBe('request body scanner busy\n');
    const first = await runaway;
    expect(first.status).toBe(503);
    expect(first.body.toString()).toBe('request body scan timed out\n');
  });

  it('answers 503 when a scan runs past its deadline, and keeps scanning afterwards', async () => {
    const started = performance.now();
    const runaway = await request({ port: setup.port, method: 'POST', path: '/x', body: Buffer.from(`${'a'.repeat(64)}b`) });
    expect(runaway.status).toBe(503);
    expect(runaway.body.toString()).toBe('request body scan timed out\n');
    expect(performance.now() - started).toBeLessThan(5000);
    // The proxy's own event loop was never blocked: a plain request is served, and scanning still works.
    expect((await request({ port: setup.port, path: '/plain' })).status).toBe(200);
    expect((await request({ port: setup.port, method: 'POST', path: '/x', body: Buffer.from('fine') })).status).toBe(200);
  });

  it('runs the scans on pool threads under SCHED_IDLE (nice 19 without the addon), so the data-plane thread wins the core', async () => {
    expect((await request({ port: setup.port, method: 'POST', path: '/x', body: Buffer.from('scan me') })).status).toBe(200);
    // After the name (no spaces here), /proc/<pid>/task/<tid>/stat has field 19, the nice value, at index 16, and
    // field 41, the scheduling policy, at index 38 (0 SCHED_OTHER, 5 SCHED_IDLE).
    const tasks = readdirSync(`/proc/${setup.proxy.pid}/task`);
    const fields = tasks.map((tid) => readFileSync(`/proc/${setup.proxy.pid}/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []);
    const pool = fields.filter((f) => f[16] === '19');
    expect(pool.length).toBeGreaterThan(0);
    const addonBuilt = existsSync(new URL('../../native/build/mantou.node', import.meta.url));
    for (const f of pool) expect(f[38]).toBe(addonBuilt ? '5' : '0');
    // The data-plane threads keep the default priority and policy.
    expect(fields.some((f) => f[16] === '0' && f[38] === '0')).toBe(true);
  });
});
