// A request pipelined behind one with a body is answered after that one's response, also when the body was read
// whole while the upstream connection was still being made, its last read taking the buffered body over the limit
// that pauses the client. Both found by the exchange fuzz test: the net engine parsed the next request as soon as
// the connection was ready and the client resumed, started its stream beside the first one, and reset the
// response writer mid-response, so that the rest of a chunked body went out unframed; and when the upload was
// answered locally instead (its upstream failed), its pause outlived it and the next request was never read.

import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { closedPort, startTcpServer, type TcpServer } from '../helpers/tcp-peers.ts';

let upstream: TcpServer;
let proxy: ProxyProcess;

/** Over the 64 KiB a stream buffers while its upstream connection is made: the client is paused past it. */
const BODY_BYTES = 100_000;

/** Answers the POST, once its body is in, chunked in two parts 100 ms apart; the GET `get-ok` at once. */
function answer(socket: net.Socket): void {
  let received = 0;
  socket.on('data', (d: Buffer) => {
    const text = d.toString('latin1');
    if (text.startsWith('GET')) {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nget-ok');
      return;
    }
    const before = received;
    received += text.startsWith('POST') ? d.length - text.indexOf('\r\n\r\n') - 4 : d.length;
    if (before < BODY_BYTES && received >= BODY_BYTES) {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n');
      setTimeout(() => socket.write('6\r\nsecond\r\n0\r\n\r\n'), 100);
    }
  });
}

beforeAll(async () => {
  upstream = await startTcpServer(answer);
  proxy = await startProxy(
    edgeConfig(
      ['{ match: { path: { prefix: /refused } }, cluster: refused }', '{ match: { path: { prefix: / } }, cluster: up }'],
      { up: upstream.port, refused: await closedPort() },
      1,
      ['engine: net'],
    ),
  );
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

/**
 * Sends an upload to `uploadPath` and a GET pipelined behind it in one write: the proxy reads head and body in two
 * reads of up to 64 KiB, the second with the GET behind; what came back once `until` holds of it.
 */
async function uploadThenGet(uploadPath: string, until: (got: string) => boolean): Promise<string> {
  const socket = net.connect(proxy.port('edge'), '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString('latin1');
  });
  socket.write(
    Buffer.concat([
      Buffer.from(`POST ${uploadPath} HTTP/1.1\r\nHost: a\r\nContent-Length: ${BODY_BYTES}\r\n\r\n`),
      Buffer.alloc(BODY_BYTES, 0x61),
      Buffer.from('GET /next HTTP/1.1\r\nHost: a\r\n\r\n'),
    ]),
  );
  await expect.poll(() => until(got) || socket.destroyed, { timeout: 5000 }).toBe(true);
  socket.destroy();
  return got;
}

it('answers a request pipelined behind an upload only after the upload’s whole response, on a fresh upstream connection', async () => {
  // The proxy's first request to the cluster: its body is read whole while the upstream connection is being made.
  expect(upstream.accepted).toBe(0);
  const got = await uploadThenGet('/upload', (g) => g.endsWith('get-ok'));
  const first = got.indexOf('\r\n\r\n');
  const second = got.indexOf('HTTP/1.1', first);
  // The POST's body, framed whole and ended, then the next response.
  expect(got.slice(first + 4, second)).toBe('5\r\nfirst\r\n6\r\nsecond\r\n0\r\n\r\n');
  expect(got.slice(second)).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nget-ok$/);
});

it('answers a request pipelined behind an upload its upstream refused (the upload paused, then answered locally)', async () => {
  // The upload's body paused the client while the connection was being made; the 503 ended that pause too.
  const got = await uploadThenGet('/refused', (g) => g.endsWith('get-ok'));
  expect(got).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n[\s\S]*upstream connect refused\n/);
  expect(got).toMatch(/HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nget-ok$/);
});
