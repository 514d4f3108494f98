// `admin.headerTimeoutMs` through the real CLI: a client that never finishes its headers gets a 408 and a close when
// the configured time is up, a reload changes the time for the next connection, and a value out of range is a
// config error with its location.

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { adminPost } from '../helpers/admin.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';

const config = (adminPort: number, headerTimeoutMs: number) => `workers: 1
admin: { port: ${adminPort}, headerTimeoutMs: ${headerTimeoutMs} }
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    routes: [{ directResponse: { status: 200, body: ok } }]
`;

/** Sends half a request head to the admin port; resolves with what came back and when the proxy closed it. */
function silentClient(port: number): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /ready HTTP/1.1\r\nhost: a\r\n'));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, ms: performance.now() - started }));
  });
}

describe('admin.headerTimeoutMs', () => {
  let proxy: ProxyProcess | undefined;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('closes a silent admin client at the configured time, and a reload changes it', async () => {
    proxy = await startProxy(config(0, 300));
    const first = await silentClient(proxy.adminPort);
    expect(first.text.startsWith('HTTP/1.1 408')).toBe(true);
    expect(first.ms).toBeGreaterThanOrEqual(280);
    expect(first.ms).toBeLessThan(2000);

    writeFileSync(proxy.configFile, config(proxy.adminPort, 2500));
    expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
    const second = await silentClient(proxy.adminPort);
    expect(second.text.startsWith('HTTP/1.1 408')).toBe(true);
    expect(second.ms).toBeGreaterThanOrEqual(2400);
  });

  it('refuses a value out of range at load, naming where', async () => {
    await expect(startProxy(config(0, 0))).rejects.toThrow(/mantou\.yaml:2:\d+ admin\.headerTimeoutMs: expected integer 1\.\.600000, got 0/);
  });
});
