// onDone and onUpstreamRequest through the real proxy on every engine: onDone runs once however the stream ended
// (served, a filter's reply, an upstream failure before or during the response, a client gone), with the outcome
// the access log would tell; onUpstreamRequest runs between onRequest and the upstream, may answer instead of it
// or pause it. The outcome-log fixture records what onDone saw and serves the records at /__outcomes. On the
// native engine these routes stay native (counted below).

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutcomeRecord } from '../fixtures/filters/outcome-log.ts';
import { filterFailuresOf, nativeCounted } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { closedPort, waitFor } from '../helpers/tcp-peers.ts';
import { type Server, startRawUpstream } from '../helpers/upstreams.ts';

const fixture = (name: string) => new URL(`../fixtures/filters/${name}.ts`, import.meta.url).pathname;

const setup = { port: 0, proxy: null as unknown as ProxyProcess, upstream: null as (Server & { requests: string[] }) | null };

beforeAll(async () => {
  // /cut: 10 bytes of a 100-byte body, then the connection drops; /slow answers after 600 ms; anything else "ok".
  setup.upstream = await startRawUpstream((socket, head) => {
    if (head.startsWith('GET /cut ')) {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
      setTimeout(() => socket.destroy(), 20);
    } else if (head.startsWith('GET /slow ')) {
      setTimeout(() => socket.destroyed || socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'), 600);
    } else socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
  });
  setup.proxy = await startProxy(`
workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: log, module: ${fixture('outcome-log')} }
      - { name: gate, module: ${fixture('async-gate')} }
      - { name: thrower, module: ${fixture('done-thrower')} }
    routes:
      - { name: gated, match: { path: { prefix: /gated } }, cluster: raw }
      - { name: down, match: { path: { prefix: /down } }, cluster: down, filters: { gate: { disabled: true } } }
      - { name: main, match: { path: { prefix: / } }, cluster: raw, filters: { gate: { disabled: true } } }
clusters:
  - name: raw
    endpoints: [{ address: 127.0.0.1, port: ${setup.upstream.port} }]
  - name: down
    endpoints: [{ address: 127.0.0.1, port: ${await closedPort()} }]
`);
  setup.port = setup.proxy.port('edge');
});
afterAll(async () => {
  await setup.proxy?.stop();
  await setup.upstream?.close();
});

/** Every record the filter served so far (each is served once). */
const records: OutcomeRecord[] = [];

/** The one record of `path`, once onDone has run for it. */
async function outcomeOf(path: string): Promise<OutcomeRecord> {
  const find = () => records.filter((r) => r.path === path);
  await waitFor(async () => {
    const res = await request({ port: setup.port, path: '/__outcomes' });
    records.push(...(JSON.parse(res.body.toString()) as OutcomeRecord[]));
    return find().length > 0;
  }, 3000);
  // Exactly once: a second look finds no other.
  const res = await request({ port: setup.port, path: '/__outcomes' });
  records.push(...(JSON.parse(res.body.toString()) as OutcomeRecord[]));
  const found = find();
  expect(found.length).toBe(1);
  return found[0] as OutcomeRecord;
}

describe('onDone and onUpstreamRequest', () => {
  it('a served request: every hook in order, the status, completed, the attributes onRequest set', async () => {
    const res = await request({ port: setup.port, path: '/served' });
    expect(res.status).toBe(200);
    const r = await outcomeOf('/served');
    expect(r).toMatchObject({ hooks: 'request,upstream,response,done', status: 200, failureCode: '', localReplyComponent: '', completed: true });
    expect(r.attribute).toBe('seen /served');
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("a filter's onDone that throws: logged and counted, the other filters' onDone still run, the worker serves on", async () => {
    const before = await filterFailuresOf(setup.proxy.adminPort, 'thrower');
    expect((await request({ port: setup.port, path: '/done-throw' })).status).toBe(200);
    // onDone runs in reverse: the thrower (last) first, then log.
    expect((await outcomeOf('/done-throw')).completed).toBe(true);
    await waitFor(() => setup.proxy.output().includes('onDone thrown on purpose'), 2000);
    expect(setup.proxy.output()).toContain('filter onDone failed');
    await waitFor(async () => (await filterFailuresOf(setup.proxy.adminPort, 'thrower')) === before + 1, 5000);
    expect((await request({ port: setup.port, path: '/after-throw' })).status).toBe(200);
  });

  it("another filter's reply in onRequest: no upstream hook, the replying filter named", async () => {
    const res = await request({ port: setup.port, path: '/gated/no', headers: { 'x-deny': '1' } });
    expect(res.status).toBe(403);
    const r = await outcomeOf('/gated/no');
    expect(r).toMatchObject({ hooks: 'request,response,done', status: 403, failureCode: '', localReplyComponent: 'gate', completed: true });
  });

  it('onUpstreamRequest may answer instead of the upstream, which never sees the request', async () => {
    const res = await request({ port: setup.port, path: '/up-deny', headers: { 'x-up-deny': '1' } });
    expect(res.status).toBe(403);
    expect(res.headers['x-mantou-local-reply']).toBe('log');
    expect(res.body.toString()).toBe('denied before upstream\n');
    expect(setup.upstream?.requests.some((h) => h.startsWith('GET /up-deny '))).toBe(false);
    const r = await outcomeOf('/up-deny');
    expect(r).toMatchObject({ status: 403, failureCode: '', localReplyComponent: 'log', completed: true });
    expect(r.hooks.startsWith('request,upstream,')).toBe(true);
  });

  it('onUpstreamRequest may pause the request on a promise; it then goes upstream', async () => {
    const res = await request({ port: setup.port, path: '/up-wait', headers: { 'x-up-wait': '60' } });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
    const r = await outcomeOf('/up-wait');
    expect(r).toMatchObject({ hooks: 'request,upstream,response,done', status: 200, completed: true });
    expect(r.durationMs).toBeGreaterThanOrEqual(50);
  });

  it('an upstream that refuses: the failure, its local reply from `upstream`, through onResponse', async () => {
    const res = await request({ port: setup.port, path: '/down/x' });
    expect(res.status).toBe(503);
    const r = await outcomeOf('/down/x');
    // onUpstreamRequest runs once a connection is ready, and so not here; on the native engine, before the addon
    // takes a connection (docs/filters.md, "Where a chain runs").
    expect(r).toMatchObject({
      hooks: testEngine() === 'native' ? 'request,upstream,response,done' : 'request,response,done',
      status: 503,
      failureCode: 'upstream_connect_refused',
      localReplyComponent: 'upstream',
      completed: true,
    });
  });

  it('an upstream that dies mid-response: not completed, the status that went out', async () => {
    const raw = await rawExchange(setup.port, 'GET /cut HTTP/1.1\r\nHost: a\r\n\r\n', 1500);
    expect(raw.data.startsWith('HTTP/1.1 200 ')).toBe(true);
    expect(raw.closed).toBe(true);
    const r = await outcomeOf('/cut');
    expect(r).toMatchObject({ status: 200, failureCode: 'upstream_reset_mid_response', localReplyComponent: '', completed: false });
  });

  it('a client gone before the response: not completed, downstream_aborted, no status', async () => {
    const socket = net.connect(setup.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /slow HTTP/1.1\r\nHost: a\r\n\r\n');
    await waitFor(async () => setup.upstream?.requests.some((h) => h.startsWith('GET /slow ')) === true, 2000);
    socket.destroy();
    const r = await outcomeOf('/slow');
    expect(r).toMatchObject({ status: 0, failureCode: 'downstream_aborted', completed: false });
  });

  it('a client gone while a filter decides: the request never goes upstream', async () => {
    const socket = net.connect(setup.port, '127.0.0.1');
    socket.on('error', () => {});
    // The request, then the client's FIN at once, while async-gate waits 20 ms.
    socket.end('GET /gated/gone HTTP/1.1\r\nHost: a\r\n\r\n');
    const r = await outcomeOf('/gated/gone');
    expect(r).toMatchObject({ hooks: 'request,done', status: 0, failureCode: 'downstream_aborted', completed: false });
    socket.destroy();
    expect(setup.upstream?.requests.some((h) => h.startsWith('GET /gated/gone '))).toBe(false);
  });

  it.runIf(testEngine() === 'native')('on the native engine, such a route stays native', async () => {
    const c = await nativeCounted(setup.proxy.adminPort, 2, async () => {
      expect((await request({ port: setup.port, path: '/native', headers: { 'x-up-wait': '5' } })).status).toBe(200);
      expect((await request({ port: setup.port, path: '/down/native' })).status).toBe(503);
    });
    expect(c).toEqual({ native: 2, handoffs: 0 });
    expect((await outcomeOf('/native')).completed).toBe(true);
  });
});
