// `busyPollUs` through the real proxy: a worker that busy-polls serves as before, a reload turns it off, and the
// process still drains and exits 0 (the addon's handles close with the worker's environment).

import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPost } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { type Server, startRawUpstream } from '../helpers/upstreams.ts';

let upstream: Server;
let proxy: ProxyProcess;

const config = (busyPollUs: number) => `workers: 1
busyPollUs: ${busyPollUs}
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    engine: native
    routes: [{ cluster: up }]
clusters:
  - name: up
    endpoints: [{ address: 127.0.0.1, port: ${upstream.port} }]
`;

beforeAll(async () => {
  upstream = await startRawUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
  proxy = await startProxy(config(300));
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

describe('busyPollUs', () => {
  it('serves while busy polling, turns off on a reload, and exits cleanly', async () => {
    const port = proxy.port('edge');
    for (let i = 0; i < 20; i++) {
      const r = await request({ port, path: `/p${i}` });
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('ok');
    }
    writeFileSync(proxy.configFile, config(0));
    const reload = await adminPost(proxy.adminPort, '/reload');
    expect(reload.status).toBe(200);
    expect((await request({ port, path: '/after-reload' })).status).toBe(200);
    expect(proxy.output()).not.toContain('busy polling is off');
    expect(await proxy.stop()).toBe(0);
  });
});
