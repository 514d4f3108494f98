// The filter chain through the real proxy, with custom TypeScript filters loaded from modules: order, per-route
// overrides and disabling, asynchronous head and body phases, whole-body buffering, and failures that become
// 500s naming the filter while the proxy keeps serving.

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { filterFailuresOf } from '../helpers/admin.ts';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { json, request } from '../helpers/http-client.ts';
import type { EchoReply } from '../helpers/upstreams.ts';

const fixture = (name: string) => new URL(`../fixtures/filters/${name}.ts`, import.meta.url).pathname;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const setup = echoProxy(`
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: tag, module: ${fixture('tag')}, config: { value: listener } }
      - { name: gate, module: ${fixture('async-gate')} }
      - { name: transform, module: ${fixture('body-transform')} }
    routes:
      - match: { path: { prefix: /override } }
        cluster: echo
        filters: { tag: { config: { value: route, header: x-route-tag } } }
      - match: { path: { prefix: /no-gate } }
        cluster: echo
        filters: { gate: { disabled: true } }
      - match: { path: { prefix: /whole } }
        cluster: echo
        filters: { transform: { config: { whole: 1000 } } }
      - match: { path: { prefix: /responses } }
        cluster: echo
        filters: { transform: { config: { responses: true } } }
      - { match: { path: { prefix: / } }, cluster: echo }
`);

describe('custom filters from TypeScript modules', () => {
  it('runs the listener’s filters on the request in order and on the response in reverse, with per-stream state', async () => {
    const res = await request({ port: setup.port, path: '/a' });
    expect(res.status).toBe(200);
    expect(json<EchoReply>(res).headers['x-tag']).toBe('listener');
    expect(res.headers['x-tag-seen']).toBe('listener:/a');
  });

  it('lets a route replace a filter’s options', async () => {
    const res = await request({ port: setup.port, path: '/override/x' });
    const seen = json<EchoReply>(res).headers;
    expect(seen['x-route-tag']).toBe('route');
    expect(seen['x-tag']).toBeUndefined();
    expect(res.headers['x-route-tag-seen']).toBe('route:/override/x');
  });

  it('pauses on an asynchronous onRequest and answers with the filter’s reply, named after it', async () => {
    const denied = await request({ port: setup.port, path: '/b', headers: { 'x-deny': '1' } });
    expect(denied.status).toBe(403);
    expect(denied.body.toString()).toBe('denied by gate\n');
    expect(denied.headers['x-mantou-local-reply']).toBe('gate');
    // The filter before the one that answered sees the local reply in its onResponse; the one after does not run.
    expect(denied.headers['x-tag-seen']).toBe('listener:/b');
    expect((await request({ port: setup.port, path: '/no-gate/b', headers: { 'x-deny': '1' } })).status).toBe(200);
  });

  it('gets its reply to a client still sending the body, on a connection that ends after it', async () => {
    // The client asked to close, and reads nothing until it has sent the whole upload. A proxy that closes right
    // after such a reply without reading on makes the kernel reset the connection, and the client's write fails
    // before it ever reads the reply (uWS did: the uws engine now holds such a reply until the body has come; the
    // other engines send it at once and read on).
    const socket = net.connect(setup.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.pause();
    const first = Buffer.alloc(1000, 0x61);
    const rest = Buffer.alloc(500_000, 0x62);
    socket.write(`POST /b HTTP/1.1\r\nHost: a\r\nx-deny: 1\r\nConnection: close\r\nContent-Length: ${first.length + rest.length}\r\n\r\n`);
    socket.write(first);
    // async-gate answers after 20 ms.
    await new Promise((r) => setTimeout(r, 200));
    const received: Buffer[] = [];
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => received.push(d));
    socket.write(rest);
    await new Promise((r) => setTimeout(r, 200));
    socket.resume();
    if (!socket.closed) await once(socket, 'close');
    const text = Buffer.concat(received).toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text.endsWith('denied by gate\n')).toBe(true);
  });

  it('and to a client that stops sending the body, then closes', async () => {
    // The uws engine holds the reply for at most 2 s (the others' linger after it); nothing waits for the body
    // timeout.
    const socket = net.connect(setup.port, '127.0.0.1');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    await once(socket, 'connect');
    const started = performance.now();
    socket.write('POST /b HTTP/1.1\r\nHost: a\r\nx-deny: 1\r\nConnection: close\r\nContent-Length: 100000\r\n\r\nonly this much');
    await once(socket, 'close');
    const text = Buffer.concat(received).toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 403 /);
    expect(text.endsWith('denied by gate\n')).toBe(true);
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('turns a thrown error or a rejected promise into a 500 naming the filter, counts it, and keeps serving', async () => {
    const failures = () => filterFailuresOf(setup.proxy.adminPort, 'gate');
    const before = await failures();
    for (const header of ['x-throw', 'x-reject']) {
      const res = await request({ port: setup.port, path: '/c', headers: { [header]: '1' } });
      expect(res.status).toBe(500);
      expect(res.headers['x-mantou-local-reply']).toBe('gate');
    }
    await expect.poll(failures, { timeout: 3000 }).toBe(before + 2);
    expect(setup.proxy.output()).toContain('"filter":"gate"');
    expect((await request({ port: setup.port, path: '/after-failures' })).status).toBe(200);
  });

  it('streams a 4 MiB upload through an asynchronous onRequestBody, chunk by chunk, unchanged but for its transform', async () => {
    const body = Buffer.alloc(4 << 20, 0x61);
    const res = await request({ port: setup.port, method: 'POST', path: '/upload', body });
    const reply = json<EchoReply>(res);
    expect(reply.bodyBytes).toBe(body.length);
    expect(reply.bodySha256).toBe(sha(Buffer.alloc(4 << 20, 0x41)));
  });

  it('gives a filter that asked for it the whole body once, sent upstream with a Content-Length', async () => {
    const parts = [Buffer.from('abc'), Buffer.from('def'), Buffer.from('ghi')];
    const res = await request({ port: setup.port, method: 'POST', path: '/whole', body: parts });
    const reply = json<EchoReply>(res);
    expect(reply.bodySha256).toBe(sha(Buffer.from('ABCDEFGHI')));
    expect(reply.headers['content-length']).toBe('9');
    expect(reply.headers['transfer-encoding']).toBeUndefined();
  });

  it('answers 413 naming the filter when a buffered body exceeds its limit, and never contacts the upstream', async () => {
    const before = setup.echo.connections;
    const res = await request({ port: setup.port, method: 'POST', path: '/whole', body: Buffer.alloc(2000, 0x62) });
    expect(res.status).toBe(413);
    expect(res.headers['x-mantou-local-reply']).toBe('transform');
    expect(setup.echo.connections).toBe(before);
  });

  it('rewrites response bodies (the length changes, so the response is re-framed)', async () => {
    const res = await request({ port: setup.port, path: '/responses/x' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('"METHOD":"GET"');
    expect(res.headers['content-length']).toBeUndefined();
  });
});
