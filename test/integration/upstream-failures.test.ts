import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Blackhole, startBlackhole } from '../helpers/blackhole.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { startRawUpstream } from '../helpers/upstreams.ts';

type Raw = Awaited<ReturnType<typeof startRawUpstream>>;
let raw: Raw;
let blackhole: Blackhole;
let proxy: ProxyProcess;
let port: number;
let refusedPort: number;

/** Behaviour of the scripted upstream, chosen by the request path. */
function script(socket: net.Socket, request: string): void {
  const path = request.split(' ')[1] ?? '';
  if (path.startsWith('/reset')) socket.destroy();
  else if (path.startsWith('/hang')) return;
  else if (path.startsWith('/malformed-cl')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab');
  else if (path.startsWith('/malformed-lf')) socket.write('HTTP/1.1 200 OK\nContent-Length: 2\n\nab');
  else if (path.startsWith('/malformed-fold')) socket.write('HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 2\r\n\r\nab');
  else if (path.startsWith('/malformed-tecl')) socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n');
  // A bare CR in the status line would reach the client inside its status line (found by the native parser's fuzzer).
  else if (path.startsWith('/malformed-cr')) socket.write('HTTP/1.1 200 O\rK\r\nContent-Length: 2\r\n\r\nab');
  else if (path.startsWith('/malformed-samecl')) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab');
  // Bodyless by its status, but it names a coding nobody here can end: every engine refuses it, as nginx does.
  else if (path.startsWith('/malformed-te204')) socket.write('HTTP/1.1 204 No Content\r\nTransfer-Encoding: gzip\r\n\r\n');
  else if (path.startsWith('/obs-text'))
    socket.write(Buffer.from('HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename="café.txt"\r\nContent-Length: 2\r\n\r\nok'));
  else if (path.startsWith('/no-reason')) socket.write('HTTP/1.1 204\r\n\r\n');
  // Connection may name hop-by-hop fields, but the client still needs the body's framing.
  else if (path.startsWith('/listed-length')) socket.write('HTTP/1.1 200 OK\r\nConnection: content-length, x-hop\r\nX-Hop: 1\r\nContent-Length: 2\r\n\r\nok');
  else if (path.startsWith('/listed-many')) {
    // More fields named than the native engine once kept (16): every one still dropped, the rest kept.
    const names = Array.from({ length: 20 }, (_, i) => `x-hop-${i}`);
    socket.write(`HTTP/1.1 200 OK\r\nConnection: ${names.join(', ')}\r\n${names.map((n) => `${n}: 1\r\n`).join('')}X-Kept: 1\r\nContent-Length: 2\r\n\r\nok`);
  } else if (path.startsWith('/listed-chunked'))
    socket.write('HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
  else if (path.startsWith('/midbody')) {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
    setTimeout(() => socket.destroy(), 50);
  } else if (path.startsWith('/midchunk')) {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n');
    setTimeout(() => socket.destroy(), 50);
  } else if (path.startsWith('/long')) {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${100 << 20}\r\n\r\n`);
    socket.write(Buffer.alloc(64 * 1024, 0x62));
  } else if (path.includes('/chunky')) {
    // One 40 KiB chunk and the end in one write, after the next request has queued for the connection: more than
    // a uWS cork takes, so the uws engine reports backpressure on the response's last bytes.
    setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(40_000).toString(16)}\r\n${'c'.repeat(40_000)}\r\n0\r\n\r\n`), 150);
  } else if (path.includes('/hold')) {
    // Long enough that the requests of the pending-limit test overlap even on a loaded machine (the cluster's
    // route keeps its /limited prefix: it once went unnoticed that /limited/hold never held).
    setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nhold'), 1500);
  } else if (path.startsWith('/stall')) {
    // Never answers.
  } else if (path.startsWith('/slow')) {
    setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow'), 400);
  } else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
}

beforeAll(async () => {
  raw = await startRawUpstream(script);
  blackhole = await startBlackhole();
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  refusedPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  proxy = await startProxy(
    edgeConfig(
      [
        '{ match: { path: { prefix: /refused } }, cluster: refused }',
        '{ match: { path: { prefix: /blackhole } }, cluster: blackhole }',
        '{ match: { path: { prefix: /hang } }, cluster: raw, timeoutMs: 300 }',
        '{ match: { path: { prefix: /limited } }, cluster: limited }',
        '{ match: { path: { prefix: / } }, cluster: raw }',
      ],
      {
        raw: raw.port,
        limited: { port: raw.port, settings: ['maxConnectionsPerEndpoint: 1', 'maxPendingRequestsPerEndpoint: 1'] },
        refused: refusedPort,
        blackhole: { port: blackhole.port, settings: ['connectTimeoutMs: 300'] },
      },
      1,
    ),
  );
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await raw?.close();
  blackhole?.close();
});

describe('upstream failures become the right local reply', () => {
  it('answers 503 when the upstream refuses the connection', async () => {
    const res = await request({ port, path: '/refused' });
    expect(res.status).toBe(503);
    expect(res.headers['x-mantou-local-reply']).toBe('upstream');
    expect(res.body.toString()).toContain('upstream connect refused');
  });

  it('answers 504 when the connect times out', async () => {
    const t0 = performance.now();
    const res = await request({ port, path: '/blackhole' });
    expect(res.status).toBe(504);
    expect(res.body.toString()).toContain('upstream connect timeout');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
  });

  // The upload's body was paused (over what a stream buffers while it connects) when the 504 came: on uws the
  // pause outlived the response and the connection hung, the next request never read (found by the exchange
  // fuzz test). Served or closed, the next request must not wait forever.
  it('serves or closes, never hangs, a connection whose upload got a local reply mid-body', async () => {
    const upload = 200_000;
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
    });
    await new Promise((r) => socket.once('connect', r));
    socket.write(`POST /blackhole HTTP/1.1\r\nHost: a\r\nContent-Length: ${upload}\r\n\r\n`);
    socket.write(Buffer.alloc(upload, 0x61));
    await expect.poll(() => statusOf(got), { timeout: 5000 }).toBe(504);
    socket.write('GET /after HTTP/1.1\r\nHost: a\r\n\r\n');
    await expect.poll(() => closed || got.endsWith('\r\n\r\nok'), { timeout: 5000 }).toBe(true);
    socket.destroy();
  });

  // The stream before it paused the connection's reads (its client backed up on the last bytes) and ended; the
  // pool handed the connection straight to the stream waiting for it, which never read its response (found by
  // the exchange fuzz test on uws). The cluster allows one connection, so the second request waits for the first's.
  it('hands a connection paused by the response before on to the next request reading again', async () => {
    const first = request({ port, path: '/limited/chunky' });
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const second = await request({ port, path: '/limited/after-chunky' });
    expect(second.status).toBe(200);
    expect(second.body.toString()).toBe('ok');
    expect(performance.now() - t0).toBeLessThan(3000);
    expect((await first).body.length).toBe(40_000);
  });

  it('answers 502 when the upstream resets before responding', async () => {
    const res = await request({ port, path: '/reset' });
    expect(res.status).toBe(502);
    expect(res.body.toString()).toContain('upstream reset before response');
  });

  it('answers 504 when the response does not come within the route timeout', async () => {
    const res = await request({ port, path: '/hang' });
    expect(res.status).toBe(504);
    expect(res.body.toString()).toContain('upstream response timeout');
  });

  for (const kind of ['cl', 'lf', 'fold', 'tecl', 'cr', 'samecl', 'te204']) {
    it(`answers 502 for a malformed response (${kind}) and closes that upstream connection`, async () => {
      const closedBefore = raw.closedSockets;
      const res = await request({ port, path: `/malformed-${kind}` });
      expect(res.status).toBe(502);
      expect(res.body.toString()).toContain('upstream protocol error');
      await expect.poll(() => raw.closedSockets).toBeGreaterThan(closedBefore);
    });
  }
});

describe('unusual but valid upstream responses are relayed', () => {
  it('passes a field value with raw UTF-8 (obs-text) on byte for byte', async () => {
    const r = await rawExchange(port, 'GET /obs-text HTTP/1.1\r\nHost: a\r\n\r\n', 300);
    expect(statusOf(r.data)).toBe(200);
    // The bytes as the upstream sent them: UTF-8 é is C3 A9, seen here one latin1 char per byte.
    expect(r.data).toContain(`filename="${Buffer.from('café').toString('latin1')}.txt"`);
  });

  for (const path of ['/listed-length', '/listed-chunked']) {
    it(`keeps a response's framing when its Connection names the framing field (${path}), and the connection usable`, async () => {
      const ask = (p: string) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`;
      // A request pipelined behind it reads its own response, not more of this body (uWS closes a connection that
      // pipelines behind a pending response, README: there the one response's head is checked).
      const pipelined = testEngine() !== 'uws';
      const r = await rawExchange(port, ask(path) + (pipelined ? ask('/') : ''), 300);
      const [first, second] = r.data.split(/(?=HTTP\/1\.1 )/);
      expect(statusOf(first ?? '')).toBe(200);
      expect(first).toMatch(/\r\n(content-length: 2|transfer-encoding: chunked)\r\n/i);
      expect(first).not.toMatch(/\r\nx-hop:/i);
      if (!pipelined) return;
      expect(statusOf(second ?? '')).toBe(200);
      expect(second?.endsWith('\r\n\r\nok')).toBe(true);
    });
  }

  it('drops every field a response’s Connection names, however many', async () => {
    const r = await rawExchange(port, 'GET /listed-many HTTP/1.1\r\nHost: a\r\n\r\n', 300);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).not.toMatch(/\r\nx-hop-\d+:/i);
    expect(r.data).toMatch(/\r\nx-kept: 1\r\n/i);
    expect(r.data.endsWith('\r\n\r\nok')).toBe(true);
  });

  it('relays a status line without a reason phrase', async () => {
    const r = await rawExchange(port, 'GET /no-reason HTTP/1.1\r\nHost: a\r\n\r\n', 300);
    expect(statusOf(r.data)).toBe(204);
  });
});

describe('an upstream that dies mid-response never yields a response that looks complete', () => {
  it('closes the downstream connection when a Content-Length body is cut short', async () => {
    const r = await rawExchange(port, 'GET /midbody HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
    expect(statusOf(r.data)).toBe(200);
    const body = r.data.split('\r\n\r\n')[1] ?? '';
    expect(body).toBe('0123456789');
    expect(r.closed).toBe(true);
  });

  it('closes the downstream connection without the final chunk when a chunked body is cut short', async () => {
    const r = await rawExchange(port, 'GET /midchunk HTTP/1.1\r\nHost: a\r\n\r\n', 3000);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).toContain('0123456789');
    expect(r.data).not.toContain('\r\n0\r\n\r\n');
    expect(r.closed).toBe(true);
  });
});

describe('resources are released', () => {
  it('closes the upstream connection when the client aborts mid-response', async () => {
    const closedBefore = raw.closedSockets;
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /long HTTP/1.1\r\nHost: a\r\n\r\n'));
      s.once('data', () => {
        s.destroy();
        resolve();
      });
    });
    await expect.poll(() => raw.closedSockets, { timeout: 3000 }).toBeGreaterThan(closedBefore);
  });

  it('closes the upstream connection when the client closes its side before the response starts', async () => {
    const closedBefore = raw.closedSockets;
    const requestsBefore = raw.requests.length;
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /stall HTTP/1.1\r\nHost: a\r\n\r\n'));
    s.on('error', () => {});
    await expect.poll(() => raw.requests.length).toBeGreaterThan(requestsBefore);
    s.end();
    await expect.poll(() => raw.closedSockets, { timeout: 3000 }).toBeGreaterThan(closedBefore);
    s.destroy();
  });

  // In order, so a loaded machine cannot reorder them (sent all at once, they overlapped only while the first
  // connection was being opened, and once in CI they did not): the first holds the one connection for 1.5 s, the
  // second waits in the queue of one, the third finds it full.
  it('queues up to the pending limit and answers 503 beyond it', async () => {
    const seen = raw.requests.length;
    const first = request({ port, path: '/limited/hold/1' });
    await expect.poll(() => raw.requests.length, { timeout: 3000 }).toBeGreaterThan(seen);
    const second = request({ port, path: '/limited/hold/2' });
    await new Promise((r) => setTimeout(r, 100));
    const third = await request({ port, path: '/limited/hold/3' });
    expect(third.status).toBe(503);
    expect(third.body.toString()).toContain('upstream overflow');
    expect([(await first).status, (await second).status]).toEqual([200, 200]);
  });

  it('keeps serving after every failure above', async () => {
    const res = await request({ port, path: '/fine' });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
  });
});
