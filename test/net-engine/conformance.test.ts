// The `net` engine through the real proxy: what RFC 9112 allows is accepted and forwarded faithfully, what it
// forbids is answered (never left hanging) and closed, and nothing refused reaches the upstream.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { REJECTED_REQUESTS } from '../helpers/rejected-requests.ts';
import { type EchoReply, type Server, startEchoServer, startRawUpstream } from '../helpers/upstreams.ts';

let echo: Server;
let raw: Awaited<ReturnType<typeof startRawUpstream>>;
let proxy: ProxyProcess;
let port: number;

beforeAll(async () => {
  echo = await startEchoServer();
  raw = await startRawUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
  proxy = await startProxy(
    edgeConfig(
      ['{ match: { path: { prefix: /raw } }, cluster: raw }', '{ match: { path: { prefix: / } }, cluster: echo }'],
      { echo: echo.port, raw: raw.port },
      1,
      ['engine: net'],
    ),
  );
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
  await raw?.close();
});

/** The echo server's JSON replies in `data`, in order. */
function echoReplies(data: string): EchoReply[] {
  return [...data.matchAll(/\r\n\r\n(\{"method"[^\n]*?\})(?=HTTP\/1\.1 |$)/g)].map((m) => JSON.parse(m[1] as string) as EchoReply);
}

describe('the net engine accepts what RFC 9112 allows', () => {
  it('serves an HTTP/1.0 request without Host, gives the upstream a Host, and closes after the response (§9.3)', async () => {
    const r = await rawExchange(port, 'GET /ten HTTP/1.0\r\n\r\n', 1000);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).toMatch(/\r\nconnection: close\r\n/i);
    expect(r.data).toMatch(/\r\ncontent-length: \d+\r\n/i);
    expect(r.closed).toBe(true);
    const [reply] = echoReplies(r.data);
    expect(reply?.url).toBe('/ten');
    expect(reply?.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('keeps an HTTP/1.0 connection open only when the client asks for keep-alive', async () => {
    const r = await rawExchange(port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 400);
    expect(r.closed).toBe(false);
    expect(r.data.match(/\r\nconnection: keep-alive\r\n/gi)).toHaveLength(2);
    expect(echoReplies(r.data).map((e) => e.url)).toEqual(['/a', '/b']);
  });

  it('sends an unknown-length body to an HTTP/1.0 client close-delimited, never chunked', async () => {
    const r = await rawExchange(port, 'GET /chunked/5000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', 1000);
    const [head, body] = [r.data.slice(0, r.data.indexOf('\r\n\r\n')), r.data.slice(r.data.indexOf('\r\n\r\n') + 4)];
    expect(head).not.toMatch(/transfer-encoding/i);
    expect(head).toMatch(/\r\nconnection: close/i);
    expect(body.length).toBe(5000);
    expect(r.closed).toBe(true);
  });

  it('sends an absolute-form target upstream in origin form, with the target’s authority as Host (§3.2.2)', async () => {
    const r = await rawExchange(port, 'GET http://Target.example:8080/p/q?x=1 HTTP/1.1\r\nHost: other.example\r\n\r\n', 300);
    const [reply] = echoReplies(r.data);
    expect(reply?.url).toBe('/p/q?x=1');
    // Host names are case-insensitive (RFC 9110 §4.2.3): the parser keeps the authority lower-cased.
    expect(reply?.headers.host).toBe('target.example:8080');
  });

  it('accepts chunk extensions and drops request trailers instead of merging them into the head (§7.1)', async () => {
    const body = '5;ext=1\r\nhello\r\n6;x;y="z"\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n';
    const r = await rawExchange(port, `POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${body}`, 300);
    const [reply] = echoReplies(r.data);
    expect(reply?.bodyBytes).toBe(11);
    expect(reply?.bodySha256).toBe(createHash('sha256').update('hello world').digest('hex'));
    expect(reply?.headers['x-trailer']).toBeUndefined();
  });

  it('keeps obs-text bytes in header values byte for byte, trailing ones included (§5.5)', async () => {
    const r = await rawExchange(port, Buffer.from('GET /raw/obs HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9 \xff\xfe\r\n\r\n', 'latin1'), 300);
    expect(statusOf(r.data)).toBe(200);
    const forwarded = raw.requests.find((h) => h.startsWith('GET /raw/obs '));
    expect(forwarded).toMatch(/\r\nx-obs: caf\xe9 \xff\xfe\r\n/i);
  });

  it('answers pipelined requests with bodies in order on one connection', async () => {
    const three = 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /3 HTTP/1.1\r\nHost: a\r\n\r\n';
    const r = await rawExchange(port, three, 400);
    expect(r.closed).toBe(false);
    const replies = echoReplies(r.data);
    expect(replies.map((e) => e.url)).toEqual(['/1', '/2', '/3']);
    expect(replies[1]?.bodyBytes).toBe(5);
  });

  it('stops answering a client that pipelines without reading, then delivers every response once it reads', async () => {
    const count = 1500;
    const size = 65_536;
    const base = proxy.rssBytes();
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => socket.once('connect', r));
    socket.pause();
    socket.write(`GET /bytes/${size} HTTP/1.1\r\nHost: a\r\n\r\n`.repeat(count));
    // ~98 MiB of answers are due; a proxy that kept answering would hold most of them in memory.
    let peak = base;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, proxy.rssBytes());
    }
    expect(peak - base).toBeLessThan(32 << 20);
    let received = 0;
    let heads = 0;
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (d: Buffer) => {
        received += d.length;
        heads += d.toString('latin1').split('HTTP/1.1 200 OK').length - 1;
        if (received >= count * size) setTimeout(resolve, 50);
      });
      socket.on('error', reject);
      socket.resume();
    });
    socket.destroy();
    expect(heads).toBe(count);
  }, 60_000);
});

describe('the net engine refuses what RFC 9112 forbids, always with an answer and a close', () => {
  for (const [name, request, status, inBody] of REJECTED_REQUESTS) {
    it(`answers ${status} and closes on ${name}`, async () => {
      const before = echo.connections;
      const r = await rawExchange(port, request, 2000);
      expect(statusOf(r.data)).toBe(status);
      expect(r.data).toMatch(/\r\nx-mantou-local-reply: downstream\r\n/);
      expect(r.closed).toBe(true);
      // A bad head never reaches the upstream; a bad body aborts a request already on its way (never completed).
      if (inBody !== true) expect(echo.connections).toBe(before);
    });
  }

  it('answers 501 to an unknown method and 414/431 over the listener’s limits', async () => {
    expect(statusOf((await rawExchange(port, 'BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n', 1000)).data)).toBe(501);
    expect(statusOf((await rawExchange(port, `GET /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 1000)).data)).toBe(414);
    expect(statusOf((await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\n${'X-F: v\r\n'.repeat(101)}\r\n`, 1000)).data)).toBe(431);
    expect(statusOf((await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'v'.repeat(17_000)}\r\n\r\n`, 1000)).data)).toBe(431);
  });

  it('answers a request rejected behind a pipelined one only after that one’s response', async () => {
    const r = await rawExchange(port, 'GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost : a\r\n\r\n', 2000);
    expect(echoReplies(r.data).map((e) => e.url)).toEqual(['/first']);
    expect(r.data.indexOf('HTTP/1.1 400')).toBeGreaterThan(r.data.indexOf('"/first"'));
    expect(r.closed).toBe(true);
  });
});
