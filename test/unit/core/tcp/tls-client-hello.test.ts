// Reading SNI from real ClientHellos (captured from node:tls on a plain TCP server), however they are cut.

import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { NEED_MORE, readClientHello } from '../../../../core/tcp/tls-client-hello.ts';

/** The bytes node:tls sends first when connecting with `servername` (none: no SNI extension). */
async function captureClientHello(servername: string | undefined): Promise<Buffer> {
  let socket: tls.TLSSocket | undefined;
  const first = new Promise<Buffer>((resolve) => {
    const server = net.createServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          s.destroy();
          server.close();
          resolve(all);
        }
      });
    });
    server.listen(0, '127.0.0.1', () => {
      socket = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', servername, rejectUnauthorized: false });
      socket.on('error', () => {});
    });
  });
  const hello = await first;
  socket?.destroy();
  return hello;
}

/** The same handshake message re-framed as records of at most `size` bytes (legal; some clients do it). */
function reframe(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5);
  const records: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const fragment = message.subarray(at, at + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    records.push(header, fragment);
  }
  return Buffer.concat(records);
}

describe('readClientHello', () => {
  it('finds the server name, lower-cased, and null when the client sent none', async () => {
    expect(readClientHello(await captureClientHello('API.Example.test'))).toEqual({ serverName: 'api.example.test' });
    expect(readClientHello(await captureClientHello(undefined))).toEqual({ serverName: null });
  });

  it('asks for more at every cut short of the whole ClientHello', async () => {
    const hello = await captureClientHello('a.example.test');
    for (let n = 0; n < hello.length; n += 37) expect(readClientHello(hello.subarray(0, n))).toBe(NEED_MORE);
    expect(readClientHello(hello.subarray(0, hello.length - 1))).toBe(NEED_MORE);
  });

  it('reassembles a ClientHello split over several records', async () => {
    const split = reframe(await captureClientHello('split.example.test'), 100);
    expect(readClientHello(split)).toEqual({ serverName: 'split.example.test' });
    expect(readClientHello(split.subarray(0, split.length - 3))).toBe(NEED_MORE);
  });

  it('says what is wrong with bytes that are not a ClientHello', () => {
    expect(readClientHello(Buffer.from('GET / HTTP/1.1\r\n'))).toBe('not a TLS handshake');
    expect(readClientHello(Buffer.from([0x16, 0x02, 0x00, 0x00, 0x10]))).toBe('not a TLS record version');
    expect(readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]))).toBe('first handshake message is not a ClientHello');
    expect(readClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x06, 0x01, 0x00, 0x00, 0x02, 0x03, 0x03]))).toBe('truncated ClientHello');
  });
});
