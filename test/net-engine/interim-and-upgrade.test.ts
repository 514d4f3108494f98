// The `net` engine's 1xx handling (Expect: 100-continue answered by the proxy, 103 relayed to HTTP/1.1 clients
// only) and WebSocket-style upgrades: after the upstream's 101 the connection is a byte tunnel both ways.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { type EchoReply, type Server, startEchoServer, startRawUpstream } from '../helpers/upstreams.ts';

let echo: Server;
let hints: Awaited<ReturnType<typeof startRawUpstream>>;
let tunnelUpstream: { port: number; heads: string[]; close(): void };
let proxy: ProxyProcess;
let port: number;

/**
 * An upstream that answers an upgrade request with 101 (or 200 for /decline), then echoes every tunnel byte
 * back, and ends its side when the client ends its own.
 */
function startTunnelUpstream(): Promise<{ port: number; heads: string[]; close(): void }> {
  const heads: string[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let head = '';
    let upgraded = false;
    socket.on('data', (d: Buffer) => {
      if (upgraded) {
        socket.write(d);
        return;
      }
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      heads.push(head.slice(0, end + 4));
      if (head.startsWith('GET /decline')) {
        socket.end('HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\ndeclined');
        return;
      }
      upgraded = true;
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n');
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      if (rest.length > 0) socket.write(rest);
    });
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, heads, close: () => server.close() })),
  );
}

beforeAll(async () => {
  echo = await startEchoServer();
  hints = await startRawUpstream((socket) =>
    socket.write('HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'),
  );
  tunnelUpstream = await startTunnelUpstream();
  proxy = await startProxy(
    edgeConfig(
      [
        '{ match: { path: { prefix: /hints } }, cluster: hints }',
        '{ match: { path: { prefix: /ws } }, cluster: tunnel }',
        '{ match: { path: { prefix: /decline } }, cluster: tunnel }',
        '{ match: { path: { prefix: /local } }, directResponse: { status: 200, body: local } }',
        '{ match: { path: { prefix: / } }, cluster: echo }',
      ],
      { echo: echo.port, hints: hints.port, tunnel: tunnelUpstream.port },
      1,
      ['engine: net'],
    ),
  );
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
  await hints?.close();
  tunnelUpstream?.close();
});

/** Connects and collects bytes; `until(text)` waits for a pattern in what arrived. */
async function openClient() {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', r));
  let data = Buffer.alloc(0);
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (d: Buffer) => {
    data = Buffer.concat([data, d]);
    wake();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    wake();
  });
  const text = () => data.toString('latin1');
  return {
    socket,
    text,
    bytes: () => data,
    get closed() {
      return closed;
    },
    async until(check: () => boolean, ms = 3000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`timed out; got: ${text().slice(0, 300)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
    },
  };
}

describe('1xx responses on the net engine', () => {
  it('answers Expect: 100-continue itself once the request goes upstream, and the body then flows', async () => {
    const c = await openClient();
    c.socket.write('POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until(() => c.text().includes('\r\n\r\n'));
    expect(c.text()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    c.socket.write('hello');
    await c.until(() => c.text().includes('"bodyBytes"'));
    const reply = JSON.parse(c.text().slice(c.text().indexOf('{'))) as EchoReply;
    expect(reply.bodyBytes).toBe(5);
    // The proxy answered the expectation: the upstream is not asked to.
    expect(reply.headers.expect).toBeUndefined();
    c.socket.destroy();
  });

  it('sends no 100 Continue before a local reply, and closes since the body was never read', async () => {
    const r = await rawExchange(port, 'POST /local HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n', 1000);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).not.toContain('100 Continue');
    expect(r.closed).toBe(true);
  });

  it('relays 103 Early Hints to an HTTP/1.1 client before the final response', async () => {
    const r = await rawExchange(port, 'GET /hints HTTP/1.1\r\nHost: a\r\n\r\n', 300);
    expect(r.data).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nlink: <\/s\.css>; rel=preload\r\n\r\nHTTP\/1\.1 200 OK\r\n/i);
    expect(r.data.endsWith('\r\n\r\nok')).toBe(true);
  });

  it('never sends a 1xx to an HTTP/1.0 client', async () => {
    const r = await rawExchange(port, 'GET /hints HTTP/1.0\r\n\r\n', 1000);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).not.toContain(' 103 ');
    const continued = await rawExchange(port, 'POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi', 1000);
    expect(statusOf(continued.data)).toBe(200);
    expect(continued.data).not.toContain('100 Continue');
  });
});

describe('upgrades on the net engine', () => {
  it('tunnels a WebSocket upgrade after the upstream’s 101, bytes sent early included, and passes half-close on', async () => {
    const c = await openClient();
    c.socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\nearly');
    await c.until(() => c.text().endsWith('early'));
    const head = c.text().slice(0, c.text().indexOf('\r\n\r\n') + 4);
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toMatch(/\r\nconnection: upgrade\r\n/i);
    expect(head).toMatch(/\r\nupgrade: websocket\r\n/i);
    expect(head).not.toMatch(/content-length|transfer-encoding/i);
    const forwarded = tunnelUpstream.heads.at(-1) ?? '';
    expect(forwarded).toMatch(/\r\nconnection: upgrade\r\n/i);
    expect(forwarded).toMatch(/\r\nupgrade: websocket\r\n/i);
    expect(forwarded).toMatch(/\r\nsec-websocket-key: k\r\n/i);
    c.socket.write('ping');
    await c.until(() => c.text().endsWith('earlyping'));
    c.socket.end();
    await c.until(() => c.closed);
  });

  it('carries 8 MiB each way through a tunnel unchanged, with backpressure', async () => {
    const c = await openClient();
    c.socket.write('GET /ws/bulk HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    await c.until(() => c.text().includes('\r\n\r\n'));
    const headBytes = c.text().indexOf('\r\n\r\n') + 4;
    const payload = Buffer.alloc(8 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) % 253;
    c.socket.end(payload);
    await c.until(() => c.closed, 20_000);
    const back = c.bytes().subarray(headBytes);
    expect(back.length).toBe(payload.length);
    expect(createHash('sha256').update(back).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
  }, 30_000);

  it('relays an upstream that declines an upgrade, then closes the connection', async () => {
    const r = await rawExchange(port, 'GET /decline HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 1000);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data.endsWith('declined')).toBe(true);
    expect(r.closed).toBe(true);
  });

  it('ignores an upgrade to a protocol the listener does not allow: the request is served as plain HTTP', async () => {
    const r = await rawExchange(
      port,
      'GET /plain HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
      300,
    );
    expect(statusOf(r.data)).toBe(200);
    const reply = JSON.parse(r.data.slice(r.data.indexOf('{'))) as EchoReply;
    expect(reply.headers.upgrade).toBeUndefined();
    expect(reply.headers['http2-settings']).toBeUndefined();
    expect(r.closed).toBe(false);
  });
});
