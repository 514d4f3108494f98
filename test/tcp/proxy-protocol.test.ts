// The PROXY protocol on a real TCP listener: sent to the upstream (v1 text, v2 binary) with the real client
// address, and accepted from a load balancer in front (the announced client is then what later filters, the
// upstream and the access log see); a connection without the header is refused in accept mode.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { connectAndWait, startTcpServer, type TcpServer, waitFor } from '../helpers/tcp-peers.ts';

/** What the upstream received on each connection, whole (it answers "ok" to the client's FIN). */
let received: Buffer[] = [];

function listener(name: string, filters: string[]): string {
  return [
    `  - name: ${name}`,
    '    protocol: tcp',
    '    address: 127.0.0.1',
    '    port: 0',
    '    cluster: recorder',
    '    filters:',
    ...filters.map((f) => `      - ${f}`),
  ].join('\n');
}

/** Sends `bytes` through listener `name`, ends, and resolves with the upstream's record of the connection. */
async function through(proxy: ProxyProcess, name: string, bytes: Buffer | string): Promise<{ upstream: Buffer; clientPort: number }> {
  const before = received.length;
  const c = net.connect({ port: proxy.port(name), host: '127.0.0.1', allowHalfOpen: true });
  await new Promise((r) => c.once('connect', r));
  const clientPort = c.localPort as number;
  c.end(bytes);
  c.resume();
  await new Promise((r) => c.once('close', r));
  await waitFor(() => received.length > before);
  return { upstream: received[before] as Buffer, clientPort };
}

describe('proxy-protocol', () => {
  let recorder: TcpServer;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    recorder = await startTcpServer((s) => {
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.on('end', () => {
        received.push(Buffer.concat(chunks));
        s.end('ok');
      });
    });
    proxy = await startProxy(
      [
        'workers: 1',
        'listeners:',
        listener('send-v1', ['{ name: proxy-protocol, config: { send: v1 } }']),
        listener('send-v2', ['{ name: proxy-protocol, config: { send: v2 } }']),
        listener('accept-any', ['{ name: proxy-protocol, config: { accept: any, send: v1, acceptTimeoutMs: 400 } }']),
        listener('accept-v2-guarded', ['{ name: proxy-protocol, config: { accept: v2 } }', '{ name: ip-access, config: { deny: [203.0.113.0/24] } }']),
        'clusters:',
        `  - { name: recorder, endpoints: [{ address: 127.0.0.1, port: ${recorder.port} }] }`,
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    await recorder?.close();
  });

  it('sends a v1 line with the real client address and port before the client bytes', async () => {
    received = [];
    const { upstream, clientPort } = await through(proxy, 'send-v1', 'payload');
    expect(upstream.toString('latin1')).toBe(`PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${proxy.port('send-v1')}\r\npayload`);
  });

  it('sends a v2 binary header (signature, PROXY command, TCP over IPv4, addresses, ports)', async () => {
    const { upstream, clientPort } = await through(proxy, 'send-v2', 'payload');
    expect(upstream.subarray(0, 12).toString('hex')).toBe('0d0a0d0a000d0a515549540a');
    expect(upstream[12]).toBe(0x21);
    expect(upstream[13]).toBe(0x11);
    expect(upstream.readUInt16BE(14)).toBe(12);
    expect([...upstream.subarray(16, 24)]).toEqual([127, 0, 0, 1, 127, 0, 0, 1]);
    expect(upstream.readUInt16BE(24)).toBe(clientPort);
    expect(upstream.readUInt16BE(26)).toBe(proxy.port('send-v2'));
    expect(upstream.subarray(28).toString()).toBe('payload');
  });

  it('accepts a header from a load balancer: the announced client is passed on, the header itself is not', async () => {
    const v1 = await through(proxy, 'accept-any', 'PROXY TCP4 198.51.100.9 192.0.2.1 4242 443\r\nhello');
    expect(v1.upstream.toString('latin1')).toBe('PROXY TCP4 198.51.100.9 192.0.2.1 4242 443\r\nhello');
    const header = Buffer.from('0d0a0d0a000d0a515549540a2121002420010db800000000000000000000000700000000000000000000000000000001109a01bb', 'hex');
    const v2 = await through(proxy, 'accept-any', Buffer.concat([header, Buffer.from('hi')]));
    expect(v2.upstream.toString('latin1')).toBe('PROXY TCP6 2001:db8::7 ::1 4250 443\r\nhi');
    await waitFor(() => proxy.output().includes('"client":"2001:db8::7:4250"'));
  });

  it('resets a connection without a valid header, or that sends none in time, when accepting', async () => {
    const before = received.length;
    expect((await connectAndWait(proxy.port('accept-any'), 'GET / HTTP/1.1\r\n\r\n')).how).toBe('reset');
    expect((await connectAndWait(proxy.port('accept-any'), 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n')).how).toBe('reset');
    const silent = await connectAndWait(proxy.port('accept-any'));
    expect(silent.how).toBe('reset');
    expect(silent.ms).toBeGreaterThan(350);
    expect(received.length).toBe(before);
  });

  it('filters after it see the announced client: ip-access refuses a denied address behind the balancer', async () => {
    const announce = (a: number[]) =>
      Buffer.concat([Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex'), Buffer.from([...a, 127, 0, 0, 1, 0x10, 0x00, 0x01, 0xbb]), Buffer.from('x')]);
    expect((await connectAndWait(proxy.port('accept-v2-guarded'), announce([203, 0, 113, 5]))).how).toBe('reset');
    const allowed = await through(proxy, 'accept-v2-guarded', announce([198, 51, 100, 1]));
    expect(allowed.upstream.toString()).toBe('x');
  });
});
