// Connection filters on a real TCP listener: ip-access, connection-limit counted across two workers, the example
// custom filter (session-quota), and filters that fail (the session is reset, counted, and nothing else is hurt).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGet, crashWorkerHolding } from '../helpers/admin.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { connectAndWait, openConnection, readBytes, startEchoTcpServer, type TcpServer, waitFor } from '../helpers/tcp-peers.ts';

const fixture = (name: string) => new URL(`../fixtures/filters/${name}.ts`, import.meta.url).pathname;
const example = (name: string) => new URL(`../../examples/filters/${name}.ts`, import.meta.url).pathname;

interface ListenerStats {
  sessions: number;
  activeSessions: number;
  closeReasons: Record<string, number>;
  filterFailures: Record<string, number>;
}

async function stats(proxy: ProxyProcess, listener: string): Promise<ListenerStats> {
  // A session is counted when both its sides have closed, which can be just after its client saw the end.
  await new Promise((r) => setTimeout(r, 1100));
  return (JSON.parse((await adminGet(proxy.adminPort, '/stats')).body) as { tcp: Record<string, ListenerStats> }).tcp[listener] as ListenerStats;
}

function listener(name: string, filters: string[], extra: string[] = []): string {
  return [
    `  - name: ${name}`,
    '    protocol: tcp',
    '    address: 127.0.0.1',
    '    port: 0',
    '    cluster: echo',
    ...extra.map((l) => `    ${l}`),
    '    filters:',
    ...filters.map((f) => `      - ${f}`),
  ].join('\n');
}

/** A round trip through an echo session: the payload comes back, then the session is ended. */
async function roundTrip(port: number, payload: string): Promise<string> {
  const ending = await connectAndWait(port, payload, 5000, true);
  return `${ending.how}:${ending.received.toString()}`;
}

describe('connection filters', () => {
  let echo: TcpServer;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    echo = await startEchoTcpServer();
    proxy = await startProxy(
      [
        'workers: 2',
        'listeners:',
        listener('denied', ['{ name: ip-access, config: { deny: [127.0.0.0/8] } }']),
        listener('allowed', ['{ name: ip-access, config: { allow: [10.0.0.0/8, 127.0.0.1/32] } }']),
        listener('not-listed', ['{ name: ip-access, config: { allow: [10.0.0.0/8] } }']),
        listener('limited', ['{ name: connection-limit, config: { maxSessions: 3 } }']),
        listener('rated', ['{ name: connection-limit, config: { maxSessionsPerSecond: 3 } }'], ['accessLog: false']),
        listener('quota', [`{ name: session-quota, module: ${example('session-quota')}, config: { maxClientBytes: 1000 } }`]),
        listener('throws', [`{ name: connection-faults, module: ${fixture('connection-faults')}, config: { fail: throw } }`]),
        listener('rejects', [`{ name: connection-faults, module: ${fixture('connection-faults')}, config: { fail: reject } }`]),
        listener('data-throws', [`{ name: connection-faults, module: ${fixture('connection-faults')}, config: { fail: data } }`]),
        listener('held', [`{ name: connection-faults, module: ${fixture('connection-faults')}, config: { holdMs: 300 } }`]),
        'clusters:',
        `  - { name: echo, endpoints: [{ address: 127.0.0.1, port: ${echo.port} }] }`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    await echo?.close();
  });

  it('ip-access resets a denied client before any upstream is connected, and lets an allowed one through', async () => {
    const accepted = echo.accepted;
    const denied = await connectAndWait(proxy.port('denied'), 'hello');
    expect(denied.how).toBe('reset');
    expect(denied.received.length).toBe(0);
    const notListed = await connectAndWait(proxy.port('not-listed'), 'hello');
    expect(notListed.how).toBe('reset');
    expect(echo.accepted).toBe(accepted);
    expect(await roundTrip(proxy.port('allowed'), 'hello')).toBe('fin:hello');
    expect((await stats(proxy, 'denied')).closeReasons.ip_denied).toBe(1);
  });

  it('connection-limit caps concurrent sessions on the listener across both workers, and frees a slot when one ends', async () => {
    // Enough connections that SO_REUSEPORT spreads them over both workers; the limit still holds for the listener.
    const open = await Promise.all(Array.from({ length: 3 }, () => openConnection(proxy.port('limited'))));
    const echoes = await Promise.all(
      open.map((c, i) => {
        const got = readBytes(c, 1);
        c.write(String(i));
        return got;
      }),
    );
    expect(echoes.map((b) => b.toString())).toEqual(['0', '1', '2']);
    const refused = await Promise.all(Array.from({ length: 4 }, () => connectAndWait(proxy.port('limited'), 'x')));
    expect(refused.map((r) => r.how)).toEqual(['reset', 'reset', 'reset', 'reset']);
    const first = open[0];
    first?.end();
    await new Promise((r) => first?.once('close', r));
    await new Promise((r) => setTimeout(r, 50));
    expect(await roundTrip(proxy.port('limited'), 'again')).toBe('fin:again');
    for (const c of open.slice(1)) c.end();
    const s = await stats(proxy, 'limited');
    expect(s.closeReasons.connection_limit).toBe(4);
  });

  it('connection-limit caps new sessions per second (a fixed one-second window, so at most twice the rate in any second)', async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => roundTrip(proxy.port('rated'), `r${i}`)));
    const passed = results.filter((r) => r.startsWith('fin:')).length;
    expect(passed).toBeGreaterThanOrEqual(3);
    expect(passed).toBeLessThanOrEqual(6);
    expect(results.filter((r) => r.startsWith('reset')).length).toBe(12 - passed);
  });

  it('runs the example custom filter: a session over its byte quota is reset, and the access log carries its attributes', async () => {
    expect(await roundTrip(proxy.port('quota'), 'x'.repeat(900))).toBe(`fin:${'x'.repeat(900)}`);
    const over = await connectAndWait(proxy.port('quota'), 'y'.repeat(5000));
    expect(over.how).toBe('reset');
    const find = () =>
      proxy
        .output()
        .split('\n')
        .find((l) => l.includes('"tcp session"') && l.includes('"closeReason":"quota_exceeded"'));
    await waitFor(() => find() !== undefined);
    const attributes = JSON.parse(find() as string).attributes as { quotaExceeded: boolean; quotaUsedBytes: number };
    expect(attributes.quotaExceeded).toBe(true);
    expect(attributes.quotaUsedBytes).toBeGreaterThan(1000);
  });

  it('a filter that throws, rejects or fails in onData resets its session, is counted, and the worker serves on', async () => {
    for (const name of ['throws', 'rejects', 'data-throws']) {
      const ending = await connectAndWait(proxy.port(name), 'payload');
      expect(ending.how, name).toBe('reset');
    }
    const s = await stats(proxy, 'throws');
    expect(s.filterFailures['connection-faults']).toBe(1);
    expect(s.closeReasons.filter_error).toBe(1);
    expect(proxy.output()).toContain('connection filter failed');
    expect(await roundTrip(proxy.port('allowed'), 'still serving')).toBe('fin:still serving');
  });

  it('an asynchronous onConnect holds the session: bytes sent meanwhile reach the upstream afterwards, in order', async () => {
    const started = performance.now();
    expect(await roundTrip(proxy.port('held'), 'early bytes')).toBe('fin:early bytes');
    expect(performance.now() - started).toBeGreaterThan(250);
  });
});

describe('connection-limit after a worker crash', () => {
  it('takes the dead worker’s sessions off the count: the limit admits new sessions once it is back', async () => {
    const echo = await startEchoTcpServer();
    const proxy = await startProxy(
      [
        'workers: 1',
        'listeners:',
        listener('limited', ['{ name: connection-limit, config: { maxSessions: 2 } }']),
        'clusters:',
        `  - { name: echo, endpoints: [{ address: 127.0.0.1, port: ${echo.port} }] }`,
      ].join('\n'),
      { MANTOU_TEST_HOOKS: '1' },
    );
    try {
      const held = await Promise.all([openConnection(proxy.port('limited')), openConnection(proxy.port('limited'))]);
      for (const c of held) c.on('error', () => {});
      await waitFor(() => echo.open === 2);
      expect((await connectAndWait(proxy.port('limited'), 'x')).how).toBe('reset');
      // The worker closes its sessions as it goes (a FIN each); ready again only after the supervisor saw the
      // crash and the restarted worker serves.
      await crashWorkerHolding(proxy.adminPort, held);
      // Two slots again: the crashed worker's two sessions no longer count.
      expect(await roundTrip(proxy.port('limited'), 'one')).toBe('fin:one');
      const again = await Promise.all([openConnection(proxy.port('limited')), openConnection(proxy.port('limited'))]);
      expect((await connectAndWait(proxy.port('limited'), 'x')).how).toBe('reset');
      for (const c of again) c.end();
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
