// Routes whose filters have onResponse hooks that answer at once (synchronousResponse: cors, headers) run on the
// native engine too: C hands the response head to JavaScript between reading and writing it
// (native/h1-response.c), keeps the framing its own, and local replies (a filter's, a failure's) pass the response
// phases of the filters that ran, as on the net engine. A filter whose onResponse may wait still sends its route
// to the net engine.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeCounted, streamStatsUntil } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { rawExchange } from '../helpers/raw-client.ts';
import { closedPort } from '../helpers/tcp-peers.ts';
import { isPatternBody, type Server, startEchoServer } from '../helpers/upstreams.ts';

const FIXTURES = new URL('../fixtures/filters/', import.meta.url).pathname;
const BUILT_IN = new URL('../../filters/', import.meta.url).pathname;
const ORIGIN = 'https://app.example.com';

const setup = { port: 0, proxy: null as unknown as ProxyProcess, echo: null as Server | null };
beforeAll(async () => {
  setup.echo = await startEchoServer();
  setup.proxy = await startProxy(`
workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    engine: native
    filters:
      - { name: cors, module: ${BUILT_IN}cors.ts, config: { allowOrigins: ["${ORIGIN}"], exposeHeaders: [x-gate-status] } }
      - { name: stamp, module: ${BUILT_IN}headers.ts, config: { response: { set: { x-served-by: "%listener%" }, add: { x-route: "%route%" } } } }
      - { name: agate, module: ${FIXTURES}async-gate.ts }
      - { name: rgate, module: ${FIXTURES}response-gate.ts }
      - { name: tag, module: ${FIXTURES}tag.ts, config: { value: net } }
    routes:
      - { name: tagged, match: { path: { prefix: /tagged } }, cluster: echo, filters: { agate: { disabled: true } } }
      - { name: gated, match: { path: { prefix: /gated } }, cluster: echo, filters: { tag: { disabled: true } } }
      - { name: down, match: { path: { prefix: /down } }, cluster: down, filters: { agate: { disabled: true }, tag: { disabled: true } } }
      - { name: main, cluster: echo, filters: { agate: { disabled: true }, tag: { disabled: true } } }
clusters:
  - name: echo
    endpoints: [{ address: 127.0.0.1, port: ${setup.echo.port} }]
  - name: down
    endpoints: [{ address: 127.0.0.1, port: ${await closedPort()} }]
`);
  setup.port = setup.proxy.port('edge');
});
afterAll(async () => {
  await setup.proxy?.stop();
  await setup.echo?.close();
});

const counted = (n: number, fn: () => Promise<void>) => nativeCounted(setup.proxy.adminPort, n, fn);

const get = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  request({ port: setup.port, path, method, headers: { origin: ORIGIN, ...headers } });

/** One request as get() sends it; its response, and which engine served it. */
async function countedGet(path: string, headers: Record<string, string> = {}, method = 'GET') {
  let res: Awaited<ReturnType<typeof get>> | undefined;
  const c = await counted(1, async () => {
    res = await get(path, headers, method);
  });
  return { c, res: res as Awaited<ReturnType<typeof get>> };
}

/** The field lines of the first response head in raw bytes, lower-cased names. */
function fieldsOf(raw: string): string[] {
  return raw
    .slice(0, raw.indexOf('\r\n\r\n'))
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(0, l.indexOf(':')).toLowerCase());
}

describe('response filters on the native engine', () => {
  it('edit a Content-Length response natively; the framing stays the upstream’s, the body byte for byte', async () => {
    const { c, res } = await countedGet('/bytes/100000');
    expect(c).toEqual({ native: 1, handoffs: 0 });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['access-control-expose-headers']).toBe('x-gate-status');
    expect(res.headers.vary).toContain('origin');
    expect(res.headers['x-served-by']).toBe('edge');
    expect(res.headers['x-route']).toBe('main');
    expect(res.headers['x-gate-status']).toBe('200');
    expect(res.headers['x-gate-path']).toBe('/bytes/100000');
    // The filter's content-length: 1 is not the engine's framing.
    expect(res.headers['content-length']).toBe('100000');
    expect(res.body.length).toBe(100000);
    expect(isPatternBody(res.body ?? Buffer.alloc(0))).toBe(true);
  });

  it('one Date, one Content-Length, no hop-by-hop fields; chunked and HEAD responses framed as before', async () => {
    const r = await rawExchange(
      setup.port,
      `GET /bytes/10 HTTP/1.1\r\nHost: a\r\nOrigin: ${ORIGIN}\r\n\r\nHEAD /bytes/10 HTTP/1.1\r\nHost: a\r\n\r\nGET /chunked/70000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
      800,
    );
    const heads = r.data.split(/(?=HTTP\/1\.1 )/);
    expect(heads.length).toBe(3);
    const first = fieldsOf(heads[0] as string);
    expect(first.filter((f) => f === 'date').length).toBe(1);
    expect(first.filter((f) => f === 'content-length').length).toBe(1);
    expect(first).not.toContain('connection');
    expect(first).not.toContain('keep-alive');
    expect(heads[1]).toMatch(/\r\ncontent-length: 10\r\n/i);
    expect(heads[1]).toMatch(/\r\nx-gate-status: 200\r\n/);
    expect((heads[1] as string).endsWith('\r\n\r\n')).toBe(true);
    expect(heads[2]).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
    expect(heads[2]).toMatch(/\r\nconnection: close\r\n/i);
    expect(heads[2]).toMatch(/0\r\n\r\n$/);
    expect(r.closed).toBe(true);
    const res = await get('/chunked/70000');
    expect(res.body.length).toBe(70000);
    expect(isPatternBody(res.body)).toBe(true);
    expect(res.headers['x-gate-status']).toBe('200');
  });

  it('a filter may change the status line', async () => {
    const res = await get('/status/202');
    expect(res.status).toBe(200);
    expect(res.headers['x-gate-status']).toBe('200');
    const raw = await rawExchange(setup.port, 'GET /status/202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 800);
    expect(raw.data.startsWith('HTTP/1.1 200 Fine\r\n')).toBe(true);
  });

  it('a reply in place of the response, a throw and a broken synchronousResponse promise: each answered, the connection kept', async () => {
    const req = (path: string) => `GET ${path} HTTP/1.1\r\nHost: a\r\nOrigin: ${ORIGIN}\r\n\r\n`;
    let r = { data: '', closed: false, error: null as string | null };
    const c = await counted(4, async () => {
      r = await rawExchange(setup.port, req('/status/418') + req('/status/417') + req('/status/416') + req('/bytes/5'), 800);
    });
    expect(c).toEqual({ native: 4, handoffs: 0 });
    const statuses = [...r.data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([451, 500, 500, 200]);
    expect(r.data).toContain('replaced by response-gate');
    expect(r.data).toContain('x-replaced: yes');
    expect(r.data.match(/x-mantou-local-reply: rgate/g)?.length).toBe(3);
    // Its replies pass the onResponse of the filters before it (stamp, cors), as a reply made in onRequest does;
    // nothing of the upstream's response goes out.
    expect(r.data.match(/x-served-by: edge/g)?.length).toBe(4);
    expect(r.data.match(/access-control-allow-origin: /g)?.length).toBe(4);
    expect(r.data).not.toContain('status body');
    expect(r.closed).toBe(false);
    const s = await streamStatsUntil(setup.proxy.adminPort, (x) => x.inflight === 0);
    expect(s.inflight).toBe(0);
  });

  it("a request filter's reply passes the response phases of the filters before it, not of those after", async () => {
    const res = await get('/gated/x', { 'x-deny': '1' });
    expect(res.status).toBe(403);
    expect(res.body.toString()).toBe('denied by gate\n');
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['x-served-by']).toBe('edge');
    expect(res.headers['x-gate-status']).toBeUndefined();
    const ok = await get('/gated/y');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-gate-path']).toBe('/gated/y');
  });

  it("an upstream failure's local reply passes every filter's response phase", async () => {
    const { c, res } = await countedGet('/down/x');
    expect(c).toEqual({ native: 1, handoffs: 0 });
    expect(res.status).toBeGreaterThanOrEqual(502);
    expect(res.headers['x-mantou-local-reply']).toBe('upstream');
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(res.headers['x-gate-status']).toBe(String(res.status));
    expect(res.headers['x-route']).toBe('down');
  });

  it('a CORS preflight is answered natively', async () => {
    const { c, res } = await countedGet('/anything', { 'access-control-request-method': 'PUT' }, 'OPTIONS');
    expect(c).toEqual({ native: 1, handoffs: 0 });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
  });

  it('a filter whose onResponse may wait (no synchronousResponse) keeps its route on the net engine', async () => {
    const { c, res } = await countedGet('/tagged/x');
    expect(c.handoffs).toBe(1);
    expect(res.headers['x-tag-seen']).toBe('net:/tagged/x');
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
  });
});
