// A response cut short by its upstream must not look complete. To an HTTP/1.0 client a body of unknown length is
// close-delimited, so the proxy's only way to say "cut" is to reset the connection instead of ending it (found by
// the exchange fuzz test). A Node socket cannot show the difference — libuv reports a reset that arrives behind
// data as an end — so the client here reads its descriptor itself: read(2) returns 0 at a FIN, ECONNRESET at a reset.

import { readSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { startTcpServer, type TcpServer, waitFor } from '../helpers/tcp-peers.ts';

let upstream: TcpServer;
let proxy: ProxyProcess;

/** /cut: a chunked body ended mid-chunk by a FIN; /whole: the same body complete. */
function answer(socket: net.Socket): void {
  socket.once('data', (d: Buffer) => {
    socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n01234');
    if (d.toString('latin1').startsWith('GET /cut')) socket.end();
    else socket.end('56789\r\n0\r\n\r\n');
  });
}

beforeAll(async () => {
  upstream = await startTcpServer(answer);
  proxy = await startProxy(edgeConfig(['{ match: { path: { prefix: / } }, cluster: up }'], { up: upstream.port }, 1, ['engine: net']));
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

/** Sends an HTTP/1.0 request and reads the socket's descriptor directly once the proxy is done with it. */
async function readAsHttp10(path: string): Promise<{ bytes: string; ending: 'fin' | 'reset' }> {
  const socket = net.connect(proxy.port('edge'), '127.0.0.1');
  // Paused before it connects, the socket never starts reading: the descriptor's bytes and ending are read below.
  socket.pause();
  socket.on('error', () => {});
  await new Promise<void>((r) => socket.once('connect', r));
  // The upstream ends every connection after its answer: this request's is new, and closed once it is done.
  const accepted = upstream.accepted;
  socket.write(`GET ${path} HTTP/1.0\r\nHost: a\r\n\r\n`);
  await waitFor(() => upstream.accepted > accepted && upstream.open === 0, 5000);
  await new Promise((r) => setTimeout(r, 200));
  const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  const buf = Buffer.alloc(65_536);
  let bytes = '';
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) bytes += buf.toString('latin1', 0, n);
    return { bytes, ending: 'fin' };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
    return { bytes, ending: 'reset' };
  } finally {
    socket.destroy();
  }
}

it('ends a close-delimited response the upstream completed with a FIN', async () => {
  const r = await readAsHttp10('/whole');
  expect(r.bytes).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\nconnection: close\r\n\r\n0123456789$/);
  expect(r.ending).toBe('fin');
});

it('resets the connection of a close-delimited response the upstream cut short', async () => {
  const r = await readAsHttp10('/cut');
  expect(r.bytes).not.toMatch(/transfer-encoding/i);
  expect(r.bytes.endsWith('\r\n\r\n01234')).toBe(true);
  expect(r.ending).toBe('reset');
});
