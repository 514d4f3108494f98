// A cluster's idle upstream connections are closed once past its idleTimeoutMs (the net engine's pools: the sweep
// runs only while some connection is idle, so it must start again each time one goes idle).

import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { waitFor } from '../helpers/tcp-peers.ts';
import { type Server, startKeepAliveUpstream } from '../helpers/upstreams.ts';

let upstream: Server & { open: ReadonlySet<net.Socket> };
let proxy: ProxyProcess;

beforeAll(async () => {
  upstream = await startKeepAliveUpstream();
  const port = upstream.port;
  const routes = ['{ match: { path: { prefix: / } }, cluster: app }'];
  proxy = await startProxy(edgeConfig(routes, { app: { port, settings: ['idleTimeoutMs: 300'] } }, 1, ['engine: net']));
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

describe('idle upstream connections', () => {
  it('are closed past the idle timeout, each time the pool goes idle again', async () => {
    for (const round of [1, 2, 3]) {
      expect((await request({ port: proxy.port('edge'), path: `/round/${round}` })).status).toBe(200);
      expect(upstream.connections).toBe(round);
      // The sweep runs once a second: the connection goes within about 1.3 s (the server's keep-alive is 60 s).
      await waitFor(async () => upstream.open.size === 0, 4000);
    }
  }, 20_000);
});
