// The admin port's header deadline (core/admin/header-deadline.ts), over real loopback sockets: slow or silent
// clients get a 408 and a closed connection, keep-alive clients that are merely quick enough keep working, and the
// server keeps no 30 s connection check running while it listens.

import type http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type AdminBackend, AdminServer } from '../../../../core/admin/admin-server.ts';
import { NEVER_MS } from '../../../../core/admin/header-deadline.ts';

const DEADLINE_MS = 300;

const backend: AdminBackend = {
  isReady: () => true,
  configDump: async () => ({}),
  stats: async () => ({}),
  reload: async () => ({ ok: true, generation: 1 }),
  drain: () => {},
};

let admin: AdminServer | undefined;
afterEach(async () => {
  await admin?.close();
  admin = undefined;
});

async function start(): Promise<number> {
  admin = new AdminServer(backend, DEADLINE_MS);
  return admin.listen('127.0.0.1', 0);
}

/** Connects, runs `drive` on the socket, and resolves with everything received and when the server closed it. */
function session(port: number, drive: (socket: net.Socket) => void): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, closedAfterMs: performance.now() - started }));
    socket.on('connect', () => drive(socket));
  });
}

describe('admin header deadline', () => {
  it('answers 408 and closes a connection that never completes its headers', async () => {
    const port = await start();
    const { text, closedAfterMs } = await session(port, (s) => s.write('GET /live HTTP/1.1\r\nhost: a\r\n'));
    expect(text.startsWith('HTTP/1.1 408 Request Timeout\r\n')).toBe(true);
    expect(closedAfterMs).toBeGreaterThanOrEqual(DEADLINE_MS - 20);
    expect(closedAfterMs).toBeLessThan(DEADLINE_MS + 2000);
  });

  it('closes a client trickling its headers a byte at a time, activity notwithstanding', async () => {
    const port = await start();
    const request = 'GET /live HTTP/1.1\r\nhost: a\r\nx-pad: ' + 'p'.repeat(200) + '\r\n\r\n';
    let timer: NodeJS.Timeout | undefined;
    const { text } = await session(port, (s) => {
      let i = 0;
      timer = setInterval(() => {
        if (s.destroyed || i >= request.length) return clearInterval(timer);
        s.write(request.charAt(i++));
      }, 20);
    });
    clearInterval(timer);
    expect(text.startsWith('HTTP/1.1 408')).toBe(true);
    expect(text).not.toContain('200 OK');
  });

  it('serves keep-alive requests that each arrive within the deadline of the previous response', async () => {
    const port = await start();
    const { text } = await session(port, (s) => {
      s.write('GET /live HTTP/1.1\r\nhost: a\r\n\r\n');
      // Two thirds of the deadline after the first, then again: each is timed from the previous response.
      setTimeout(() => s.write('GET /live HTTP/1.1\r\nhost: a\r\n\r\n'), (DEADLINE_MS * 2) / 3);
      setTimeout(() => s.end('GET /live HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n'), (DEADLINE_MS * 4) / 3);
    });
    expect(text.match(/HTTP\/1\.1 200 OK/g)?.length).toBe(3);
    expect(text).not.toContain('408');
  });

  it('keeps no periodic connection check while it listens', async () => {
    await start();
    // TypeScript's private is compile-time only: read the http.Server to find Node's connection-checking interval.
    const server = (admin as unknown as { server: http.Server }).server;
    const symbol = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
    const interval = symbol === undefined ? undefined : (server as unknown as Record<symbol, { _idleTimeout?: number }>)[symbol];
    // Node 22 (the pinned one) keeps its interval under this symbol: 30,000 ms unless the admin server turned it off.
    expect(interval?._idleTimeout).toBe(NEVER_MS);
  });
});
