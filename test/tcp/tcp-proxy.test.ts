// The TCP proxy through the real proxy process: bytes unchanged both ways, half-close, backpressure, upstreams
// that are down or stall, timeouts, and no socket left behind after many sessions.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TcpCounters } from '../../core/tcp/tcp-counters.ts';
import { adminGet } from '../helpers/admin.ts';
import { type Blackhole, startBlackhole } from '../helpers/blackhole.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import {
  closedPort,
  connectAndWait,
  openConnection,
  openFds,
  readBytes,
  receiveAll,
  sendRandom,
  startEchoTcpServer,
  startSourceSink,
  startTcpServer,
  type TcpServer,
  type TransferResult,
  waitFor,
} from '../helpers/tcp-peers.ts';

interface TcpStats {
  tcp: Record<string, TcpCounters>;
}

async function tcpStats(proxy: ProxyProcess, listener: string): Promise<TcpStats['tcp'][string]> {
  // A session is counted when both its sides have closed, which can be just after its client saw the end.
  await new Promise((r) => setTimeout(r, 1100));
  const stats = JSON.parse((await adminGet(proxy.adminPort, '/stats')).body) as TcpStats;
  const l = stats.tcp[listener];
  if (l === undefined) throw new Error(`no stats for ${listener}`);
  return l;
}

function tcpListener(name: string, cluster: string, extra: string[] = []): string {
  return [`  - name: ${name}`, '    protocol: tcp', '    address: 127.0.0.1', '    port: 0', `    cluster: ${cluster}`, ...extra.map((l) => `    ${l}`)].join(
    '\n',
  );
}

function cluster(name: string, ports: number[], extra: string[] = []): string {
  const endpoints = ports.map((p) => `{ address: 127.0.0.1, port: ${p} }`).join(', ');
  return [`  - name: ${name}`, `    endpoints: [${endpoints}]`, ...extra.map((l) => `    ${l}`)].join('\n');
}

const MiB = 1 << 20;

// Every test runs on both relays: the native one (sessions without filters) and node:net (MANTOU_NATIVE_L4=off).
const RELAYS = [
  { relay: 'native', env: {} },
  { relay: 'node:net', env: { MANTOU_NATIVE_L4: 'off' } },
] as const;

describe.each(RELAYS)('TCP proxy ($relay relay)', ({ relay, env }) => {
  let echo: TcpServer;
  let sourceSink: Awaited<ReturnType<typeof startSourceSink>>;
  let stalling: TcpServer;
  let halfClose: TcpServer;
  let blackhole: Blackhole;
  let refused: number;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    echo = await startEchoTcpServer();
    sourceSink = await startSourceSink(100 * MiB);
    // Accepts, never reads, never writes.
    stalling = await startTcpServer((s) => s.pause());
    // Reads the client's bytes until its FIN, then answers how many arrived, after the FIN, and ends.
    halfClose = await startTcpServer((s) => {
      let n = 0;
      s.on('data', (d: Buffer) => {
        n += d.length;
      });
      s.on('end', () => setTimeout(() => s.end(`got ${n} bytes after your FIN\n`), 100));
    });
    blackhole = await startBlackhole();
    refused = await closedPort();
    const config = [
      'workers: 1',
      'listeners:',
      tcpListener('echo', 'echo'),
      tcpListener('bulk', 'bulk', ['accessLog: false']),
      tcpListener('stall', 'stall', ['timeouts: { idleMs: 2500 }']),
      tcpListener('half', 'half'),
      tcpListener('down', 'down', ['maxConnectAttempts: 2']),
      tcpListener('blackhole', 'blackhole'),
      tcpListener('retry', 'retry'),
      tcpListener('short', 'echo', ['timeouts: { maxSessionMs: 500 }']),
      tcpListener('lull', 'echo', ['timeouts: { idleMs: 1500 }']),
      'clusters:',
      cluster('echo', [echo.port]),
      cluster('bulk', [sourceSink.port]),
      cluster('stall', [stalling.port]),
      cluster('half', [halfClose.port]),
      cluster('down', [refused]),
      cluster('blackhole', [blackhole.port], ['connectTimeoutMs: 300']),
      cluster('retry', [refused, echo.port]),
    ].join('\n');
    proxy = await startProxy(config, env);
  });

  it('runs the sessions on the relay asked for', () => {
    expect(proxy.output()).toContain(`"relay":"${relay}"`);
  });

  afterAll(async () => {
    await proxy?.stop();
    blackhole?.close();
    await Promise.all([echo?.close(), sourceSink?.close(), stalling?.close(), halfClose?.close()]);
  });

  it('relays 100 MiB of random bytes each way, at the same time, unchanged (hashes compared)', async () => {
    const client = await openConnection(proxy.port('bulk'));
    const [sent, received] = await Promise.all([sendRandom(client, 100 * MiB), receiveAll(client)]);
    const upstream = await (sourceSink.results[0] as Promise<TransferResult>);
    expect(upstream.receivedBytes).toBe(100 * MiB);
    expect(upstream.receivedSha256).toBe(sent.sentSha256);
    expect(received.receivedBytes).toBe(100 * MiB);
    expect(received.receivedSha256).toBe(upstream.sentSha256);
  }, 60_000);

  it('passes a client FIN on and keeps the other direction open (client half-close)', async () => {
    const text = await new Promise<string>((resolve) => {
      const c = net.connect({ port: proxy.port('half'), host: '127.0.0.1', allowHalfOpen: true }, () => c.end(Buffer.alloc(5000, 1)));
      let got = '';
      c.on('data', (d) => {
        got += d;
      });
      c.on('end', () => resolve(got));
    });
    // The upstream answers only after it saw the FIN, and the answer still reached the half-closed client.
    expect(text).toBe('got 5000 bytes after your FIN\n');
  });

  it('passes an upstream FIN on and keeps the client → upstream direction open (upstream half-close)', async () => {
    let upstreamGot = '';
    const upstreamDone = new Promise<void>((resolve) => {
      const server = startTcpServer((s) => {
        s.end('bye\n'); // FIN first, then keep reading
        s.on('data', (d) => {
          upstreamGot += d;
        });
        s.on('end', () => resolve());
      });
      void server.then(async (srv) => {
        const p = await startProxy(['workers: 1', 'listeners:', tcpListener('t', 'u'), 'clusters:', cluster('u', [srv.port])].join('\n'));
        const c = await openConnection(p.port('t'));
        c.on('end', () => c.end('written after the upstream FIN'));
        c.resume();
        await new Promise((r) => c.once('close', r));
        await p.stop();
        await srv.close();
      });
    });
    await upstreamDone;
    expect(upstreamGot).toBe('written after the upstream FIN');
  });

  it('resets the client at once when no endpoint accepts, after the bounded retries, and counts it', async () => {
    const before = await tcpStats(proxy, 'down');
    const ending = await connectAndWait(proxy.port('down'), 'hello');
    expect(ending.how).toBe('reset');
    expect(ending.ms).toBeLessThan(1000);
    const after = await tcpStats(proxy, 'down');
    expect(after.sessionsUnreachable - before.sessionsUnreachable).toBe(1);
    expect(after.connectFailures - before.connectFailures).toBe(2); // maxConnectAttempts: 2
    expect(after.closeReasons.connect_failed).toBeGreaterThanOrEqual(1);
  });

  it('retries a refused connect on another endpoint: every session gets through', async () => {
    for (let i = 0; i < 6; i++) {
      const ending = await connectAndWait(proxy.port('retry'), `ping ${i}`, 5000, true);
      expect(ending.received.toString()).toBe(`ping ${i}`);
      expect(ending.how).toBe('fin');
    }
    const s = await tcpStats(proxy, 'retry');
    expect(s.connectFailures).toBeGreaterThanOrEqual(1);
    expect(s.sessionsUnreachable).toBe(0);
    // Per endpoint: the refused one only failed, the live one carried every session.
    expect(s.endpoints[`127.0.0.1:${refused}`]).toEqual({ sessions: 0, connectFailures: s.connectFailures });
    expect(s.endpoints[`127.0.0.1:${echo.port}`]).toEqual({ sessions: 6, connectFailures: 0 });
    expect(s.sessionSeconds).toBeGreaterThan(0);
  });

  it('gives up on an endpoint that never answers the SYN after connectTimeoutMs', async () => {
    const ending = await connectAndWait(proxy.port('blackhole'), 'x');
    expect(ending.how).toBe('reset');
    // Three attempts (the default) of 300 ms each, met to within 250 ms.
    expect(ending.ms).toBeGreaterThan(850);
    expect(ending.ms).toBeLessThan(3000);
    const s = await tcpStats(proxy, 'blackhole');
    expect(s.closeReasons.connect_timeout).toBe(1);
  });

  it('does not buffer without bound toward an upstream that stops reading, and closes it when idle', async () => {
    const client = await openConnection(proxy.port('stall'));
    client.on('error', () => {});
    const closed = new Promise((r) => client.once('close', r));
    // Push 64 MiB; the stalled upstream reads nothing, so only socket buffers (kernel and proxy) can hold bytes.
    const big = Buffer.alloc(4 * MiB, 7);
    for (let i = 0; i < 16; i++) client.write(big);
    await new Promise((r) => setTimeout(r, 400));
    // Most of it is still waiting in the client: nothing downstream of it took it.
    expect(client.writableLength).toBeGreaterThan(40 * MiB);
    const s = await tcpStats(proxy, 'stall');
    // What the proxy took from the client is bounded by socket buffers and its one pending write, not the 64 MiB offered.
    expect(s.bytesFromClient).toBeLessThan(16 * MiB);
    await closed;
    const after = await tcpStats(proxy, 'stall');
    expect(after.closeReasons.idle_timeout).toBe(1);
  });

  it('closes a session that moves no byte at timeouts.idleMs, not before and not much after', async () => {
    // The native relay's sweep is due at the earliest deadline, not on a tick: an idle session is what it waits for.
    const client = await openConnection(proxy.port('stall'));
    client.on('error', () => {});
    // Read, so that the proxy's FIN is seen (the client allows half-open: it does not end its own side on it).
    client.resume();
    const started = performance.now();
    await new Promise((r) => client.once('end', r));
    client.destroy();
    expect(performance.now() - started).toBeGreaterThan(2400);
    expect(performance.now() - started).toBeLessThan(3500);
  });

  it('times the idle timeout from the last byte, also when it comes after a lull the listener dozed through', async () => {
    const client = await openConnection(proxy.port('lull'));
    client.on('error', () => {});
    client.resume();
    const started = performance.now();
    client.write('a');
    await new Promise((r) => setTimeout(r, 1200));
    client.write('b');
    await new Promise((r) => client.once('end', r));
    client.destroy();
    // Closed 1.5 s after the second byte, not 1.5 s after the first (or after the sweep before the lull).
    expect(performance.now() - started).toBeGreaterThan(1200 + 1400);
    expect(performance.now() - started).toBeLessThan(1200 + 1500 + 1000);
  });

  it('ends a session at timeouts.maxSessionMs however busy it is', async () => {
    const client = await openConnection(proxy.port('short'));
    client.on('error', () => {});
    const timer = setInterval(() => client.write('tick'), 50);
    client.resume();
    const started = performance.now();
    await new Promise((r) => client.once('close', r));
    clearInterval(timer);
    expect(performance.now() - started).toBeGreaterThan(400);
    expect(performance.now() - started).toBeLessThan(1500);
    expect((await tcpStats(proxy, 'short')).closeReasons.max_duration).toBe(1);
  });

  it('leaves no socket behind after 1,000 sessions in a row and 500 at once', async () => {
    const fdsBefore = openFds(proxy.pid);
    for (let i = 0; i < 1000; i++) {
      const ending = await connectAndWait(proxy.port('echo'), 'x', 5000, true);
      if (ending.received.toString() !== 'x') throw new Error(`session ${i}: got "${ending.received}" (${ending.how})`);
    }
    const clients = await Promise.all(Array.from({ length: 500 }, () => openConnection(proxy.port('echo'))));
    await waitFor(() => echo.open === 500);
    const answers = clients.map((c, i) => {
      const got = readBytes(c, String(i).length);
      c.write(String(i));
      return got;
    });
    expect((await Promise.all(answers)).map((b) => b.toString())).toEqual(clients.map((_, i) => String(i)));
    await Promise.all(
      clients.map((c) => {
        c.end();
        return new Promise((r) => c.once('close', r));
      }),
    );
    await waitFor(() => echo.open === 0);
    await waitFor(() => openFds(proxy.pid) <= fdsBefore + 2);
    const s = await tcpStats(proxy, 'echo');
    expect(s.activeSessions).toBe(0);
    expect(s.sessions).toBeGreaterThanOrEqual(1500);
  }, 60_000);

  it('keeps bytes intact across idle pauses, when sessions give their read buffers back and take others', async () => {
    // Idle past two sweeps: both sessions' sockets are parked and their buffers pooled; then they trade places.
    const a = await openConnection(proxy.port('echo'));
    const b = await openConnection(proxy.port('echo'));
    for (let round = 0; round < 3; round++) {
      for (const [c, tag] of [
        [a, 'a'],
        [b, 'b'],
      ] as const) {
        const text = `${tag}${round}:${'x'.repeat(1000 * (round + 1))}`;
        const got = readBytes(c, text.length);
        c.write(text);
        expect((await got).toString()).toBe(text);
      }
      await new Promise((r) => setTimeout(r, 600));
    }
    a.end();
    b.end();
  });

  it('writes one access-log line per session with bytes, duration, endpoint and close reason', async () => {
    const ending = await connectAndWait(proxy.port('echo'), 'an access-log test', 5000, true);
    expect(ending.how).toBe('fin');
    const find = () =>
      proxy
        .output()
        .split('\n')
        .find((l) => l.includes('"tcp session"') && l.includes('"bytesFromClient":18'));
    await waitFor(() => find() !== undefined);
    const entry = JSON.parse(find() as string) as Record<string, unknown>;
    expect(entry).toMatchObject({ listener: 'echo', cluster: 'echo', upstream: `127.0.0.1:${echo.port}`, bytesFromUpstream: 18, closeReason: 'client_closed' });
    expect(entry.client).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(typeof entry.durationMs).toBe('number');
  });
});
