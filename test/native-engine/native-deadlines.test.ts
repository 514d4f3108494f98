// The native engine's idle deadlines, met by one sweep per listener that runs when the earliest deadline is due
// (native/h1-exchange.c h1_deadline): a keep-alive client idle too long is closed, so is a connection that never
// sends a head, and an upstream connection idle past its cluster's idleTimeoutMs — each in time, not before, and
// again after the sweep has had nothing to do for a while.

import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { closeAfter, statusOf } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/tcp-peers.ts';
import { type Server, startKeepAliveUpstream } from '../helpers/upstreams.ts';

let upstream: Server & { open: ReadonlySet<net.Socket> };
let proxy: ProxyProcess;

beforeAll(async () => {
  upstream = await startKeepAliveUpstream();
  const port = upstream.port;
  const routes = ['{ match: { path: { prefix: / } }, cluster: app }'];
  proxy = await startProxy(
    edgeConfig(routes, { app: { port, settings: ['idleTimeoutMs: 700'] } }, 1, ['engine: native', 'timeouts: { headerMs: 600, idleMs: 500 }']),
  );
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

describe('native engine deadlines', () => {
  it('closes a keep-alive client idle past idleMs, after a second request restarted its clock', async () => {
    const r = await closeAfter(proxy.port('edge'), ['GET /one HTTP/1.1\r\nHost: a\r\n\r\n', 300, 'GET /two HTTP/1.1\r\nHost: a\r\n\r\n']);
    expect(r.data.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    // Idle from about 300 ms: closed at 800 ms at the earliest, and within a sweep's slack of it.
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(300 + 500);
    expect(r.closedAfterMs).toBeLessThan(300 + 500 + 1000);
  });

  it('closes a connection that sends nothing after headerMs, without an answer', async () => {
    const r = await closeAfter(proxy.port('edge'), []);
    expect(r.data).toBe('');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(600);
    expect(r.closedAfterMs).toBeLessThan(600 + 1000);
  });

  it("closes an idle upstream connection past the cluster's idleTimeoutMs, each time one goes idle", async () => {
    for (const round of [1, 2]) {
      const before = upstream.connections;
      const r = await closeAfter(proxy.port('edge'), [`GET /round/${round} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`]);
      expect(statusOf(r.data)).toBe(200);
      expect(upstream.connections).toBe(before + 1);
      const idleSince = performance.now();
      await waitFor(async () => upstream.open.size === 0, 3000);
      expect(performance.now() - idleSince).toBeGreaterThanOrEqual(600);
      // Nothing is due for a while: the sweep sleeps until the next connection sets a deadline.
      await new Promise((r) => setTimeout(r, 600));
    }
  }, 15_000);
});
