// A cluster's idle upstream connections are closed once past its idleTimeoutMs (the net engine's pools: the sweep
// runs only while some connection is idle, so it must start again each time one goes idle).

import http from 'node:http';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { waitFor } from '../helpers/tcp-peers.ts';

let upstream: http.Server;
let accepted = 0;
const open = new Set<net.Socket>();
let proxy: ProxyProcess;

beforeAll(async () => {
  upstream = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'));
  upstream.on('connection', (s: net.Socket) => {
    accepted++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as net.AddressInfo).port;
  const routes = ['{ match: { path: { prefix: / } }, cluster: app }'];
  proxy = await startProxy(edgeConfig(routes, { app: { port, settings: ['idleTimeoutMs: 300'] } }, 1, ['engine: net']));
});

afterAll(async () => {
  await proxy?.stop();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => upstream?.close(() => r()));
});

describe('idle upstream connections', () => {
  it('are closed past the idle timeout, each time the pool goes idle again', async () => {
    for (const round of [1, 2, 3]) {
      expect((await request({ port: proxy.port('edge'), path: `/round/${round}` })).status).toBe(200);
      expect(accepted).toBe(round);
      // The sweep runs once a second: the connection goes within about 1.3 s (the server's keep-alive is 60 s).
      await waitFor(async () => open.size === 0, 4000);
    }
  }, 20_000);
});
