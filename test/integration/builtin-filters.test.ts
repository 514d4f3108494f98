// Each built-in filter through the real proxy: one listener carries them all, and each route leaves on only the
// filter it tests (the per-route `disabled` override).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { json, request } from '../helpers/http-client.ts';
import { makeKeys, signToken, writeJwks } from '../helpers/jwt.ts';
import type { EchoReply } from '../helpers/upstreams.ts';

const FILTERS = ['cors', 'limit', 'fault', 'ip', 'body', 'stamp', 'jwt-auth'];
const jwtDir = mkdtempSync(join(tmpdir(), 'mantou-jwks-'));
const keys = makeKeys();
writeJwks(join(jwtDir, 'jwks.json'), keys);

/** A route on `prefix` where only `filter` runs. */
function route(prefix: string, filter: string): string {
  const off = FILTERS.filter((f) => f !== filter)
    .map((f) => `${f}: { disabled: true }`)
    .join(', ');
  return `      - { match: { path: { prefix: ${prefix} } }, cluster: echo, filters: { ${off} } }`;
}

const setup = echoProxy(
  `
workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: cors, config: { allowOrigins: ["https://app.example.com"] } }
      - { name: limit, module: ../../filters/local-rate-limit.ts, config: { tokensPerFill: 1, fillIntervalMs: 60000, maxTokens: 3 } }
      - { name: fault, config: { headerControl: true } }
      - { name: ip, module: ../../filters/ip-access.ts, config: { deny: ["127.0.0.0/8"] } }
      - { name: body, module: ../../filters/body-limit.ts, config: { maxBytes: 100 } }
      - { name: stamp, module: ../../filters/headers.ts, config: { request: { set: { x-via: "%listener%/%route%" } } } }
      - { name: jwt-auth, config: { jwksFile: ${join(jwtDir, 'jwks.json')}, audience: api } }
    routes:
${route('/cors', 'cors')}
${route('/limit', 'limit')}
${route('/rate-cors', 'limit').replace('cors: { disabled: true }, ', '')}
${route('/fault', 'fault')}
${route('/ip', 'ip')}
${route('/body', 'body')}
${route('/jwt', 'jwt-auth')}
      - { name: stamped, match: { path: { prefix: /stamp } }, cluster: echo, filters: { ${FILTERS.filter((f) => f !== 'stamp')
        .map((f) => `${f}: { disabled: true }`)
        .join(', ')} } }
`.replaceAll('../../filters/', `${new URL('../../filters/', import.meta.url).pathname}`),
);

describe('built-in filters through the proxy', () => {
  it('cors: answers a preflight itself and adds CORS headers to a simple request', async () => {
    const before = setup.echo.connections;
    const pre = await request({
      port: setup.port,
      method: 'OPTIONS',
      path: '/cors/x',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(pre.headers['x-mantou-local-reply']).toBe('cors');
    expect(setup.echo.connections).toBe(before);
    const simple = await request({ port: setup.port, path: '/cors/x', headers: { origin: 'https://app.example.com' } });
    expect(simple.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('local-rate-limit: the fourth request in a burst of four gets 429 with retry-after', async () => {
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await request({ port: setup.port, path: '/limit/x' })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await request({ port: setup.port, path: '/limit/x' });
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    expect(limited.headers['x-mantou-local-reply']).toBe('limit');
  });

  it('cors runs on the local replies of filters after it: a 429 carries the CORS headers', async () => {
    const origin = { origin: 'https://app.example.com' };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await request({ port: setup.port, path: '/rate-cors/x', headers: origin }));
    expect(statuses.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(statuses[3]?.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });

  it('fault: delays and aborts the requests that ask for it', async () => {
    const started = performance.now();
    const r = await request({ port: setup.port, path: '/fault/x', headers: { 'x-mantou-fault-delay-ms': '150', 'x-mantou-fault-abort': '503' } });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.status).toBe(503);
    expect((await request({ port: setup.port, path: '/fault/x' })).status).toBe(200);
  });

  it('ip-access: refuses a denied client address with 403', async () => {
    const r = await request({ port: setup.port, path: '/ip/x' });
    expect(r.status).toBe(403);
    expect(r.headers['x-mantou-local-reply']).toBe('ip');
  });

  it('body-limit: 413 for a Content-Length body and for a chunked one over the limit', async () => {
    expect((await request({ port: setup.port, method: 'POST', path: '/body/x', body: Buffer.alloc(101) })).status).toBe(413);
    expect((await request({ port: setup.port, method: 'POST', path: '/body/x', body: [Buffer.alloc(60), Buffer.alloc(60)] })).status).toBe(413);
    expect((await request({ port: setup.port, method: 'POST', path: '/body/x', body: Buffer.alloc(100) })).status).toBe(200);
  });

  it('jwt-auth: 401 without a valid token, 200 with one', async () => {
    const refused = await request({ port: setup.port, path: '/jwt/x' });
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    const token = signToken(keys, 'ES256', { aud: 'api', exp: Math.floor(Date.now() / 1000) + 60 });
    expect((await request({ port: setup.port, path: '/jwt/x', headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it('headers: sets a request header from request attributes', async () => {
    const r = await request({ port: setup.port, path: '/stamp/x' });
    expect(json<EchoReply>(r).headers['x-via']).toBe('edge/stamped');
  });
});
