// The `net` engine's own timeouts, set per listener: a request head that never completes gets 408, a stalled
// body gets 408, a keep-alive connection idle too long is closed, and the whole request has a deadline.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { closeAfter, statusOf } from '../helpers/raw-client.ts';
import { type Server, startEchoServer } from '../helpers/upstreams.ts';

let echo: Server;
/** Short head, body and idle timeouts. */
let quick: ProxyProcess;
/** A long head and body timeout but a short whole-request one. */
let total: ProxyProcess;
/** A short head timeout and a long idle one: the listener dozes while its one connection idles. */
let dozing: ProxyProcess;

beforeAll(async () => {
  echo = await startEchoServer();
  const routes = ['{ match: { path: { prefix: / } }, cluster: echo }'];
  quick = await startProxy(edgeConfig(routes, { echo: echo.port }, 1, ['engine: net', 'timeouts: { headerMs: 300, bodyMs: 300, idleMs: 300 }']));
  total = await startProxy(edgeConfig(routes, { echo: echo.port }, 1, ['engine: net', 'timeouts: { headerMs: 10000, bodyMs: 10000, requestMs: 800 }']));
  dozing = await startProxy(edgeConfig(routes, { echo: echo.port }, 1, ['engine: net', 'timeouts: { headerMs: 300, idleMs: 5000 }']));
});

afterAll(async () => {
  await quick?.stop();
  await total?.stop();
  await dozing?.stop();
  await echo?.close();
});

describe('net engine timeouts', () => {
  it('answers 408 and closes when a request head does not complete in time', async () => {
    const r = await closeAfter(quick.port('edge'), ['GET / HTTP/1.1\r\nHost: a\r\n']);
    expect(statusOf(r.data)).toBe(408);
    expect(r.data).toMatch(/\r\nconnection: close\r\n/);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(300);
  });

  it('closes a connection that never sends a byte without answering (as nginx does)', async () => {
    const r = await closeAfter(quick.port('edge'), []);
    expect(r.data).toBe('');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(300);
  });

  it('answers 408 when a request body stalls', async () => {
    const r = await closeAfter(quick.port('edge'), ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc']);
    expect(statusOf(r.data)).toBe(408);
  });

  it('keeps a slow body alive while bytes keep coming within the body timeout', async () => {
    const parts: (string | number)[] = ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n'];
    for (const ch of 'hello') parts.push(150, ch);
    const r = await closeAfter(quick.port('edge'), parts);
    expect(statusOf(r.data)).toBe(200);
    expect(r.data).toContain('"bodyBytes":5');
  });

  it('closes a keep-alive connection after the idle timeout, not before', async () => {
    const r = await closeAfter(quick.port('edge'), ['GET /one HTTP/1.1\r\nHost: a\r\n\r\n', 150, 'GET /two HTTP/1.1\r\nHost: a\r\n\r\n']);
    expect(r.data.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(150 + 300);
  });

  it('times a head that comes after the listener dozed from its first byte, not from the last sweep', async () => {
    // After the first response the only connection idles (idle timeout 5 s): the listener stops sweeping and its
    // clock stops. The next head's 300 ms deadline must count from when its bytes came, 1.2 s later.
    const r = await closeAfter(dozing.port('edge'), ['GET /one HTTP/1.1\r\nHost: a\r\n\r\n', 1200, 'GET /two HTTP/1.1\r\nHost: a\r\n']);
    expect(r.data.match(/HTTP\/1\.1 200/g)).toHaveLength(1);
    expect(statusOf(r.data.slice(r.data.lastIndexOf('HTTP/1.1 ')))).toBe(408);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(1200 + 300);
    expect(r.closedAfterMs).toBeLessThan(1200 + 300 + 1000);
  });

  it('closes an idle keep-alive connection at its deadline while the listener dozes', async () => {
    const r = await closeAfter(quick.port('edge'), ['GET /one HTTP/1.1\r\nHost: a\r\n\r\n']);
    expect(r.data.match(/HTTP\/1\.1 200/g)).toHaveLength(1);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(300);
    expect(r.closedAfterMs).toBeLessThan(300 + 1000);
  });

  it('answers 408 when the whole request takes longer than the request timeout, even while bytes trickle in', async () => {
    const parts: (string | number)[] = ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\n'];
    for (let i = 0; i < 20; i++) parts.push(100, 'x');
    const r = await closeAfter(total.port('edge'), parts);
    expect(statusOf(r.data)).toBe(408);
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(800);
    expect(r.closedAfterMs).toBeLessThan(2000);
  });
});
