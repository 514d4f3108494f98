// An upstream that answers as soon as a request's head arrives, while the client is still sending the body, on a
// connection that ends after the response: the client must get the response whole, however it is framed. A proxy
// that closes right after such a response without reading on makes the kernel reset the connection, and a client
// that reads nothing until it has sent its whole upload never sees the response (uWS did, after `Connection:
// close` and after any first Connection field five bytes long: the uws engine now holds the response's end until
// the body has come; the other engines send it at once and read on). Found by the exchange fuzz test.

import { once } from 'node:events';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edgeConfig } from '../helpers/configs.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { type Server, startRawUpstream } from '../helpers/upstreams.ts';

/** What the upstream answers at once, by the request's path. */
const ANSWERS: Record<string, string> = {
  '/empty': 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
  '/sized': 'HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world',
  '/chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  '/bodyless': 'HTTP/1.1 204 No Content\r\n\r\n',
};

let upstream: Server;
let proxy: ProxyProcess;

beforeAll(async () => {
  upstream = await startRawUpstream((socket, head) => {
    const [path, query] = (/^\S+ (\S+)/.exec(head)?.[1] ?? '').split('?');
    const answer = ANSWERS[path as string] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';
    // ?close: the upstream closes after its answer, and says so.
    if (query === 'close') socket.end(answer.replace('\r\n', '\r\nConnection: close\r\n'));
    else socket.write(answer);
  });
  proxy = await startProxy(edgeConfig(['{ cluster: early }'], { early: upstream.port }, 1));
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

/** The response ends: its body (by the answer's framing) is all there. */
function complete(target: string, text: string): boolean {
  const path = target.split('?')[0];
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return false;
  if (path === '/sized') return text.endsWith('hello world');
  if (path === '/chunked') return text.endsWith('0\r\n\r\n');
  return text.length === headEnd + 4;
}

/**
 * Sends a 200,000-byte upload in 2,000-byte writes a millisecond apart, reading as it goes; returns what came by the
 * close, or by the response's end (a connection the proxy keeps open: `x-hop` is not a close but to uWS).
 */
async function uploadWhileAnswered(target: string, connection: string): Promise<string> {
  const socket = net.connect(proxy.port('edge'), '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('error', () => {});
  socket.on('data', (d: Buffer) => received.push(d));
  await once(socket, 'connect');
  const piece = Buffer.alloc(2000, 0x62);
  const pieces = 100;
  socket.write(`POST ${target} HTTP/1.1\r\nHost: a\r\nConnection: ${connection}\r\nContent-Length: ${piece.length * pieces}\r\n\r\n`);
  for (let i = 0; i < pieces && !socket.destroyed; i++) {
    socket.write(piece);
    await new Promise((r) => setTimeout(r, 1));
  }
  const text = () => Buffer.concat(received).toString('latin1');
  for (let waited = 0; waited < 3000 && !socket.closed && !complete(target, text()); waited += 20) await new Promise((r) => setTimeout(r, 20));
  socket.destroy();
  return text();
}

describe('an upstream that answers before the request body is through, on a connection that ends after it', () => {
  for (const connection of ['close', 'x-hop']) {
    it(`relays every framing whole to a client still sending (Connection: ${connection})`, async () => {
      for (const [path, wire] of Object.entries(ANSWERS)) {
        for (const target of [path, `${path}?close`]) {
          const text = await uploadWhileAnswered(target, connection);
          expect(text, target).toMatch(new RegExp(`^HTTP/1\\.1 ${/^HTTP\/1\.1 (\d+)/.exec(wire)?.[1]} `));
          expect(complete(path, text), `${target}: ${JSON.stringify(text)}`).toBe(true);
          if (path === '/chunked') expect(text, target).toContain('hello\r\n');
        }
      }
    });
  }
});
