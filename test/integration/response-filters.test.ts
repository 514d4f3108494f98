// onResponse through the real proxy on every engine: a filter that edits the head, changes the status line,
// replaces the response with its own reply, and sees local replies, whose framing stays the engine's (a
// content-length the filter sets is not a second one). On the native engine the route stays native
// (synchronousResponse; native-response-filters.test.ts counts it).

import { describe, expect, it } from 'vitest';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { request } from '../helpers/http-client.ts';
import { rawExchange } from '../helpers/raw-client.ts';

const fixture = (name: string) => new URL(`../fixtures/filters/${name}.ts`, import.meta.url).pathname;

const setup = echoProxy(`
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters:
      - { name: rgate, module: ${fixture('response-gate')} }
      - { name: gate, module: ${fixture('async-gate')} }
    routes:
      - { match: { path: { prefix: / } }, cluster: echo }
`);

describe('response filters', () => {
  it('edit the head; the body and its framing stay the upstream’s', async () => {
    const res = await request({ port: setup.port, path: '/bytes/3000' });
    expect(res.status).toBe(200);
    expect(res.headers['x-gate-status']).toBe('200');
    expect(res.headers['x-gate-path']).toBe('/bytes/3000');
    expect(res.headers['content-length']).toBe('3000');
    expect(res.body.length).toBe(3000);
  });

  it('change the status line, or answer in place of the response', async () => {
    // One request a connection: uWS closes a connection that pipelines behind a pending response (README).
    const fine = await rawExchange(setup.port, 'GET /status/202 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 800);
    expect(fine.data.startsWith('HTTP/1.1 200 Fine\r\n')).toBe(true);
    const replaced = await rawExchange(setup.port, 'GET /status/418 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 800);
    expect(replaced.data).toMatch(/^HTTP\/1\.1 451 [^\r]*\r\n/);
    expect(replaced.data).toContain('x-mantou-local-reply: rgate');
    expect(replaced.data).toContain('replaced by response-gate');
    expect(replaced.data).not.toContain('status body');
    // rgate is the first filter: its reply passes no filter's onResponse, its own included.
    expect(replaced.data).not.toContain('x-gate-status');
  });

  it("see another filter's local reply, whose single content-length is the engine's", async () => {
    const raw = await rawExchange(setup.port, 'GET /denied HTTP/1.1\r\nHost: a\r\nx-deny: 1\r\nConnection: close\r\n\r\n', 800);
    expect(raw.data.startsWith('HTTP/1.1 403 ')).toBe(true);
    expect(raw.data).toContain('x-gate-status: 403');
    expect(raw.data.match(/\r\ncontent-length:/gi)?.length).toBe(1);
    expect(raw.data.endsWith('\r\n\r\ndenied by gate\n')).toBe(true);
  });
});
