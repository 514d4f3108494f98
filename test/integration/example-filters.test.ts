// The example custom filters (examples/filters/) through the real proxy, loaded the way users load theirs.

import { describe, expect, it } from 'vitest';
import { nativeCounted } from '../helpers/admin.ts';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { json, request } from '../helpers/http-client.ts';
import { testEngine } from '../helpers/proxy-process.ts';
import { waitFor } from '../helpers/tcp-peers.ts';
import type { EchoReply } from '../helpers/upstreams.ts';

const example = (name: string) => new URL(`../../examples/filters/${name}.ts`, import.meta.url).pathname;
const KEY = 'k-0123456789abcdef';

const setup = echoProxy(
  `
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: slow-requests, module: ${example('slow-requests')}, config: { thresholdMs: 0 } }
      - { name: server-timing, module: ${example('server-timing')} }
      - { name: api-key, module: ${example('api-key')}, config: { keys: { billing: "\${BILLING_KEY}" } } }
    routes:
      - { match: { path: { prefix: /public } }, cluster: echo, filters: { api-key: { disabled: true } } }
      - { match: { path: { prefix: / } }, cluster: echo }
`,
  { BILLING_KEY: KEY },
);

describe('example filters', () => {
  it('api-key: 401 with www-authenticate without a valid key, and the upstream never sees the request', async () => {
    const before = setup.echo.connections;
    for (const headers of [{}, { 'x-api-key': 'k-wrong-wrong-wrong' }] as Record<string, string>[]) {
      const r = await request({ port: setup.port, path: '/private', headers });
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toBe('ApiKey header="x-api-key"');
      expect(r.headers['x-mantou-local-reply']).toBe('api-key');
    }
    expect(setup.echo.connections).toBe(before);
  });

  it('api-key: a valid key passes, and the key itself is not forwarded', async () => {
    const r = await request({ port: setup.port, path: '/private', headers: { 'x-api-key': KEY } });
    expect(r.status).toBe(200);
    expect(json<EchoReply>(r).headers['x-api-key']).toBeUndefined();
  });

  it('server-timing: reports the upstream and proxy durations; a route can turn api-key off', async () => {
    const r = await request({ port: setup.port, path: '/public/x' });
    expect(r.status).toBe(200);
    expect(r.headers['server-timing']).toMatch(/^upstream;dur=\d+\.\d\d, proxy;dur=\d+\.\d\d$/);
    // A local reply (here api-key's 401) passes the response phases of the filters before the one that answered.
    const refused = await request({ port: setup.port, path: '/private' });
    expect(refused.status).toBe(401);
    expect(refused.headers['server-timing']).toMatch(/^proxy;dur=\d+\.\d\d$/);
  });

  it('slow-requests: one line a request at or past the threshold (0 here), with the outcome and the key’s client', async () => {
    const r = await request({ port: setup.port, path: '/private/slow', headers: { 'x-api-key': KEY } });
    expect(r.status).toBe(200);
    const refused = await request({ port: setup.port, path: '/private/refused' });
    expect(refused.status).toBe(401);
    const lineOf = (path: string) =>
      setup.proxy
        .output()
        .split('\n')
        .find((l) => l.includes(`"path":"${path}"`));
    await waitFor(() => lineOf('/private/refused') !== undefined, 3000);
    const served = JSON.parse(lineOf('/private/slow') ?? '{}');
    expect(served).toMatchObject({ msg: 'slow request', method: 'GET', status: 200, completed: true, client: 'billing', filter: 'slow-requests' });
    expect(served.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.parse(lineOf('/private/refused') ?? '{}')).toMatchObject({ msg: 'slow request', status: 401, answeredBy: 'api-key', completed: true });
  });

  it.runIf(testEngine() === 'native')('on the native engine the examples run natively: their routes are never handed over', async () => {
    const c = await nativeCounted(setup.proxy.adminPort, 3, async () => {
      expect((await request({ port: setup.port, path: '/public/y' })).status).toBe(200);
      expect((await request({ port: setup.port, path: '/private', headers: { 'x-api-key': KEY } })).status).toBe(200);
      expect((await request({ port: setup.port, path: '/private' })).status).toBe(401);
    });
    expect(c).toEqual({ native: 3, handoffs: 0 });
  });
});
