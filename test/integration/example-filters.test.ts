// The example custom filters (examples/filters/) through the real proxy, loaded the way users load theirs.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { type EchoReply, type Server, startEchoServer } from '../helpers/upstreams.ts';

const example = (name: string) => new URL(`../../examples/filters/${name}.ts`, import.meta.url).pathname;
const KEY = 'k-0123456789abcdef';

let echo: Server;
let proxy: ProxyProcess;
let port: number;

beforeAll(async () => {
  echo = await startEchoServer();
  proxy = await startProxy(
    `
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: server-timing, module: ${example('server-timing')} }
      - { name: api-key, module: ${example('api-key')}, config: { keys: { billing: "\${BILLING_KEY}" } } }
    routes:
      - { match: { path: { prefix: /public } }, cluster: echo, filters: { api-key: { disabled: true } } }
      - { match: { path: { prefix: / } }, cluster: echo }
clusters:
  - name: echo
    endpoints: [{ address: 127.0.0.1, port: ${echo.port} }]
`,
    { BILLING_KEY: KEY },
  );
  port = proxy.port('edge');
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
});

describe('example filters', () => {
  it('api-key: 401 with www-authenticate without a valid key, and the upstream never sees the request', async () => {
    const before = echo.connections;
    for (const headers of [{}, { 'x-api-key': 'k-wrong-wrong-wrong' }] as Record<string, string>[]) {
      const r = await request({ port, path: '/private', headers });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('ApiKey header="x-api-key"');
      expect(r.headers['x-mantou-local-reply']).toBe('api-key');
    }
    expect(echo.connections).toBe(before);
  });

  it('api-key: a valid key passes, and the key itself is not forwarded', async () => {
    const r = await request({ port, path: '/private', headers: { 'x-api-key': KEY } });
    expect(r.status).toBe(200);
    expect(json<EchoReply>(r).headers['x-api-key']).toBeUndefined();
  });

  it('server-timing: reports the upstream and proxy durations; a route can turn api-key off', async () => {
    const r = await request({ port, path: '/public/x' });
    expect(r.status).toBe(200);
    expect(r.headers['server-timing']).toMatch(/^upstream;dur=\d+\.\d\d, proxy;dur=\d+\.\d\d$/);
    // A local reply (here api-key's 401) does not run response phases.
    const refused = await request({ port, path: '/private' });
    expect(refused.status).toBe(401);
    expect(refused.headers['server-timing']).toBeUndefined();
  });
});
