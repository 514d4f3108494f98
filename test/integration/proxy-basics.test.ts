import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientResponse, json, request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { slowDownload } from '../helpers/slow-download.ts';
import { bigHeaderValue, type EchoReply, isPatternBody, type Server, startEchoServer } from '../helpers/upstreams.ts';

/** A local reply bigger than uWS's 16 KiB cork buffer: written with tryEnd, not one overflowing end(). */
const BIG_DIRECT = 'direct-'.repeat(6000);

let echo: Server;
let proxy: ProxyProcess;
let port: number;

beforeAll(async () => {
  echo = await startEchoServer();
  proxy = await startProxy(`
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    routes:
      - name: direct
        match: { path: { exact: /direct } }
        directResponse: { status: 201, headers: { x-direct: yes }, body: "made here" }
      - name: big-direct
        match: { path: { exact: /big-direct } }
        directResponse: { status: 200, body: "${BIG_DIRECT}" }
      - name: rewrite
        match: { path: { prefix: /api/ } }
        cluster: echo
        prefixRewrite: /v2/
        hostRewrite: backend.internal
      - name: header-rules
        match: { path: { prefix: /rules } }
        cluster: echo
        requestHeaders: { add: { x-added: a }, set: { x-set: s }, remove: [x-remove-me] }
        responseHeaders: { set: { x-resp: r }, remove: [x-upstream] }
      - name: wildcard-host
        match: { host: "*.example.com" }
        directResponse: { status: 200, body: wildcard }
      - name: only-delete
        match: { method: DELETE, path: { prefix: /only-delete } }
        directResponse: { status: 200, body: deleted }
      - name: canary
        match: { headers: [{ name: x-canary, exact: "1" }] }
        directResponse: { status: 200, body: canary }
      - name: default
        match: { path: { prefix: / } }
        cluster: echo
  - name: narrow
    address: 127.0.0.1
    port: 0
    routes:
      - match: { path: { exact: /only } }
        directResponse: { status: 200 }
clusters:
  - name: echo
    endpoints: [{ address: 127.0.0.1, port: ${echo.port} }]
`);
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the proxy forwards requests and responses', () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    it(`forwards ${method} without a body`, async () => {
      const res = await request({ port, method, path: '/plain?x=1' });
      expect(res.status).toBe(200);
      const e = json<EchoReply>(res);
      expect(e).toMatchObject({ method, url: '/plain?x=1', bodyBytes: 0 });
    });
  }

  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    it(`forwards ${method} with a Content-Length body`, async () => {
      const body = Buffer.from(`payload for ${method}`);
      const e = json<EchoReply>(await request({ port, method, path: '/with-body', body }));
      expect(e).toMatchObject({ method, bodyBytes: body.length, bodySha256: sha(body) });
      expect(e.headers['content-length']).toBe(String(body.length));
    });
  }

  it('forwards a chunked request body chunked', async () => {
    const parts = [Buffer.from('abc'), Buffer.from('defgh'), Buffer.from('i')];
    const e = json<EchoReply>(await request({ port, method: 'POST', path: '/chunked-up', body: parts }));
    expect(e.bodyBytes).toBe(9);
    expect(e.bodySha256).toBe(sha(Buffer.concat(parts)));
    expect(e.headers['transfer-encoding']).toBe('chunked');
  });

  it('relays a chunked response body chunked', async () => {
    const res = await request({ port, path: '/chunked/3000000' });
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.length).toBe(3000000);
    expect(isPatternBody(res.body)).toBe(true);
  });

  it('carries 10 MiB bodies both ways intact', async () => {
    const up = Buffer.alloc(10 << 20);
    for (let i = 0; i < up.length; i += 4096) up[i] = i & 0xff;
    const e = json<EchoReply>(await request({ port, method: 'PUT', path: '/big', body: up }));
    expect(e).toMatchObject({ bodyBytes: up.length, bodySha256: sha(up) });
    const down = await request({ port, path: `/bytes/${10 << 20}` });
    expect(down.body.length).toBe(10 << 20);
    expect(down.headers['content-length']).toBe(String(10 << 20));
    expect(isPatternBody(down.body)).toBe(true);
  });

  it('answers a local reply bigger than a uWS cork intact, also three pipelined on one connection', async () => {
    const one = await request({ port, path: '/big-direct' });
    expect(one.status).toBe(200);
    expect(one.headers['content-length']).toBe(String(BIG_DIRECT.length));
    expect(one.body.toString()).toBe(BIG_DIRECT);
    const get = 'GET /big-direct HTTP/1.1\r\nHost: a\r\n\r\n';
    const r = await rawExchange(port, `${get}${get}GET /big-direct HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
    const parts = r.data.split(/HTTP\/1\.1 200 OK\r\n/).slice(1);
    expect(parts).toHaveLength(3);
    for (const part of parts) expect(part.slice(part.indexOf('\r\n\r\n') + 4)).toBe(BIG_DIRECT);
  });

  // uWS's cork buffer is 16 KiB: a bigger head is written field by field in fresh corks (core/http/uws-cork.ts).
  it('relays a 40 KB response head intact, with a chunked, a sized and no body', async () => {
    const fields = (head: string) => [0, 1, 2, 3].map((k) => new RegExp(`\r\nx-big-${k}: ([^\r]*)`).exec(head)?.[1]);
    const expected = [0, 1, 2, 3].map((k) => bigHeaderValue(k, 40_000));
    for (const path of ['/chunked/3000000?bighead=40000', '/bytes/3000000?bighead=40000', '/mixed/3000000?bighead=40000']) {
      const r = await slowDownload(port, path);
      expect(r, path).toMatchObject({ bodyBytes: 3_000_000, complete: true, error: '' });
      expect(fields(r.head), path).toEqual(expected);
    }
    const head = await rawExchange(port, 'GET /status/204?bighead=40000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(head.data).toMatch(/^HTTP\/1\.1 204 /);
    expect(fields(head.data)).toEqual(expected);
    expect(head.data.endsWith('\r\n\r\n')).toBe(true);
  });

  // RFC 9112 §9.6: the server closes after the response and says so. uWS closed without the header, so clients
  // such as wrk tried to reuse the connection; and it ignored `close` inside a list.
  it('answers a request that asks to close with connection: close, and closes', async () => {
    for (const path of ['/plain', '/direct', '/status/204']) {
      const r = await rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      const head = r.data.slice(0, r.data.indexOf('\r\n\r\n')).toLowerCase();
      expect(head.match(/\r\nconnection: close/g), path).toHaveLength(1);
      expect(r.closed, path).toBe(true);
    }
    const listed = await rawExchange(port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n');
    expect(listed.data.toLowerCase()).toMatch(/\r\nconnection: close\r\n/);
    const rejected = await rawExchange(port, 'GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n');
    expect(statusOf(rejected.data)).toBe(400);
    expect(rejected.data.toLowerCase().match(/\r\nconnection: close/g)).toHaveLength(1);
  });

  // uWS 20.0.8 closes after the response when the first Connection field is five bytes long, whatever they say:
  // it compares lengths, not "close" (found by the exchange fuzz test, with `Connection: x-hop`). Then the
  // response must say so, or a keep-alive client sends its next request into a closing connection.
  it('keeps a connection whose Connection field names a five-letter field, or says it closes (uws)', async () => {
    const r = await rawExchange(port, 'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n', 400);
    expect(statusOf(r.data)).toBe(200);
    const head = r.data.slice(0, r.data.indexOf('\r\n\r\n')).toLowerCase();
    const uws = testEngine() === 'uws';
    expect(head.match(/\r\nconnection: close/g)?.length ?? 0).toBe(uws ? 1 : 0);
    expect(r.closed).toBe(uws);
  });

  it('answers HEAD with the length and no body', async () => {
    const r = await rawExchange(port, 'HEAD /head-check HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const [head, rest] = r.data.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head?.toLowerCase()).toMatch(/content-length: \d+/);
    expect(rest).toBe('');
  });

  it('relays 204 without a body or Content-Length and 304 without a body', async () => {
    const r204 = await rawExchange(port, 'GET /status/204 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r204.data).toMatch(/^HTTP\/1\.1 204 /);
    expect(r204.data.toLowerCase()).not.toContain('content-length');
    expect(r204.data.endsWith('\r\n\r\n')).toBe(true);
    const r304 = await rawExchange(port, 'GET /status/304 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(r304.data).toMatch(/^HTTP\/1\.1 304 /);
    expect(r304.data.toLowerCase()).toContain('etag: "v1"');
    expect(r304.data.endsWith('\r\n\r\n')).toBe(true);
  });

  it('reuses connections on both sides (keep-alive)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = echo.connections;
    const sockets = new Set<unknown>();
    for (let i = 0; i < 20; i++) {
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.get({ host: '127.0.0.1', port, path: `/ka/${i}`, agent }, resolve);
        req.on('socket', (s) => sockets.add(s));
        req.on('error', reject);
      });
      res.resume();
      await new Promise((r) => res.on('end', r));
    }
    agent.destroy();
    expect(sockets.size).toBe(1);
    expect(echo.connections - before).toBeLessThanOrEqual(1);
  });
});

describe('the proxy rewrites headers as a proxy must', () => {
  it('removes hop-by-hop request headers, including those Connection lists', async () => {
    const e = json<EchoReply>(
      await request({
        port,
        path: '/hop',
        headers: {
          connection: 'x-private, keep-alive',
          'x-private': 'secret',
          te: 'trailers',
          'keep-alive': 'timeout=5',
          'proxy-connection': 'x',
          'x-end-to-end': 'kept',
        },
      }),
    );
    expect(e.headers['x-private']).toBeUndefined();
    expect(e.headers.te).toBeUndefined();
    expect(e.headers['keep-alive']).toBeUndefined();
    expect(e.headers['proxy-connection']).toBeUndefined();
    expect(e.headers['x-end-to-end']).toBe('kept');
  });

  it('removes hop-by-hop response headers, including those Connection lists', async () => {
    const res = await request({ port, path: '/hop-response' });
    expect(res.headers['connection-token']).toBeUndefined();
    expect(res.headers['x-upstream']).toBe('echo');
  });

  it('appends X-Forwarded-For/-Proto/-Host and generates x-request-id', async () => {
    const e = json<EchoReply>(await request({ port, path: '/xff', headers: { 'x-forwarded-for': '203.0.113.9', host: 'svc.local' } }));
    expect(e.headers['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-forwarded-host']).toBe('svc.local');
    expect(e.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps an incoming x-request-id', async () => {
    const e = json<EchoReply>(await request({ port, path: '/rid', headers: { 'x-request-id': 'abc-123' } }));
    expect(e.headers['x-request-id']).toBe('abc-123');
  });

  it('replaces an empty x-request-id with a generated one', async () => {
    const e = json<EchoReply>(await request({ port, path: '/rid-empty', headers: { 'x-request-id': '' } }));
    expect(e.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('applies route request and response header rules', async () => {
    const res = await request({ port, path: '/rules', headers: { 'x-remove-me': '1', 'x-set': 'old' } });
    const e = json<EchoReply>(res);
    expect(e.headers['x-added']).toBe('a');
    expect(e.headers['x-set']).toBe('s');
    expect(e.headers['x-remove-me']).toBeUndefined();
    expect(res.headers['x-resp']).toBe('r');
    expect(res.headers['x-upstream']).toBeUndefined();
  });
});

describe('routing', () => {
  it('answers a direct response naming the component', async () => {
    const res = await request({ port, path: '/direct' });
    expect(res.status).toBe(201);
    expect(res.body.toString()).toBe('made here');
    expect(res.headers['x-direct']).toBe('yes');
    expect(res.headers['x-mantou-local-reply']).toBe('direct-response');
  });

  it('rewrites the path prefix and the host', async () => {
    const e = json<EchoReply>(await request({ port, path: '/api/users?id=7' }));
    expect(e.url).toBe('/v2/users?id=7');
    expect(e.headers.host).toBe('backend.internal');
  });

  it('matches wildcard hosts, methods and headers', async () => {
    const body = (r: ClientResponse) => r.body.toString();
    expect(body(await request({ port, path: '/x', headers: { host: 'a.example.com' } }))).toBe('wildcard');
    expect(body(await request({ port, method: 'DELETE', path: '/only-delete/1' }))).toBe('deleted');
    expect(json<EchoReply>(await request({ port, method: 'GET', path: '/only-delete/1' })).method).toBe('GET');
    expect(body(await request({ port, path: '/y', headers: { 'x-canary': '1' } }))).toBe('canary');
  });

  it('answers 404 from the router when no route matches', async () => {
    const res = await request({ port: proxy.port('narrow'), path: '/other' });
    expect(res.status).toBe(404);
    expect(res.headers['x-mantou-local-reply']).toBe('router');
  });
});
