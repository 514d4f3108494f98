// TLS passthrough routed by SNI: real node:tls clients, three real TLS upstreams with their own certificates (the
// client verifies the one it reaches), a ClientHello that arrives a few bytes at a time, and the ways a client can
// fail to send one.

import { readFileSync } from 'node:fs';
import net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGet } from '../helpers/admin.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { connectAndWait } from '../helpers/tcp-peers.ts';

const pem = (name: string) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
const NAMES = ['alpha', 'beta', 'fallback'] as const;
type Name = (typeof NAMES)[number];

/** A TLS server presenting `<name>.example.test`'s certificate that greets each client with its name. */
async function startTlsUpstream(name: Name): Promise<tls.Server> {
  const server = tls.createServer({ key: pem(`${name}.key`), cert: pem(`${name}.crt`) }, (s) => {
    s.on('error', () => {});
    s.end(`hello from ${name}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

interface Reached {
  /** The certificate's CN. */
  certificate: string;
  greeting: string;
}

/** Connects through the proxy with `servername` (none when undefined) and reads the upstream's greeting. */
function tlsClient(port: number, servername: string | undefined, ca?: Name, socket?: Duplex): Promise<Reached> {
  return new Promise((resolve, reject) => {
    const options: tls.ConnectionOptions = {
      host: '127.0.0.1',
      port,
      servername,
      ...(socket === undefined ? {} : { socket }),
      ...(ca === undefined ? { rejectUnauthorized: false } : { ca: pem(`${ca}.crt`) }),
    };
    const c = tls.connect(options);
    let greeting = '';
    c.on('data', (d: Buffer) => {
      greeting += d.toString();
    });
    c.on('end', () => resolve({ certificate: String(c.getPeerCertificate().subject?.CN ?? ''), greeting }));
    c.on('error', reject);
  });
}

/** A socket to the proxy that forwards what TLS writes in 7-byte pieces, 2 ms apart: a ClientHello in dribs. */
function dribblingSocket(port: number): Duplex {
  const raw = net.connect({ port, host: '127.0.0.1', noDelay: true });
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, done) {
      let at = 0;
      const next = () => {
        if (at >= chunk.length) return done();
        raw.write(chunk.subarray(at, at + 7));
        at += 7;
        setTimeout(next, 2);
      };
      next();
    },
    read() {},
    final(done) {
      raw.end();
      done();
    },
  });
  raw.on('data', (d) => duplex.push(d));
  raw.on('end', () => duplex.push(null));
  raw.on('error', (e) => duplex.destroy(e));
  return duplex;
}

describe('sni-router', () => {
  const upstreams = new Map<Name, tls.Server>();
  let proxy: ProxyProcess;

  beforeAll(async () => {
    for (const n of NAMES) upstreams.set(n, await startTlsUpstream(n));
    const port = (n: Name) => ((upstreams.get(n) as tls.Server).address() as net.AddressInfo).port;
    const routes = '[{ serverNames: [alpha.example.test], cluster: alpha }, { serverNames: [beta.example.test, "*.beta.example.test"], cluster: beta }]';
    proxy = await startProxy(
      [
        'workers: 1',
        'listeners:',
        '  - name: tls',
        '    protocol: tcp',
        '    address: 127.0.0.1',
        '    port: 0',
        '    filters:',
        `      - { name: sni-router, config: { routes: ${routes}, defaultCluster: fallback, timeoutMs: 500 } }`,
        '  - name: strict',
        '    protocol: tcp',
        '    address: 127.0.0.1',
        '    port: 0',
        '    filters:',
        `      - { name: sni-router, config: { routes: ${routes} } }`,
        'clusters:',
        ...NAMES.map((n) => `  - { name: ${n}, endpoints: [{ address: 127.0.0.1, port: ${port(n)} }] }`),
      ].join('\n'),
    );
  });

  afterAll(async () => {
    await proxy?.stop();
    for (const s of upstreams.values()) s.close();
  });

  it('routes by server name to the upstream holding that certificate (verified end to end by the client)', async () => {
    expect(await tlsClient(proxy.port('tls'), 'alpha.example.test', 'alpha')).toEqual({ certificate: 'alpha.example.test', greeting: 'hello from alpha\n' });
    expect(await tlsClient(proxy.port('tls'), 'beta.example.test', 'beta')).toEqual({ certificate: 'beta.example.test', greeting: 'hello from beta\n' });
  });

  it('matches *.suffix wildcards and names case-insensitively', async () => {
    expect((await tlsClient(proxy.port('tls'), 'api.eu.beta.example.test')).greeting).toBe('hello from beta\n');
    expect((await tlsClient(proxy.port('tls'), 'ALPHA.Example.Test')).greeting).toBe('hello from alpha\n');
  });

  it('sends an unknown name, and a ClientHello without SNI, to the default route', async () => {
    expect((await tlsClient(proxy.port('tls'), 'other.example.test')).greeting).toBe('hello from fallback\n');
    expect((await tlsClient(proxy.port('tls'), undefined)).greeting).toBe('hello from fallback\n');
  });

  it('reassembles a ClientHello that arrives a few bytes at a time', async () => {
    const reached = await tlsClient(proxy.port('tls'), 'beta.example.test', 'beta', dribblingSocket(proxy.port('tls')));
    expect(reached.greeting).toBe('hello from beta\n');
  });

  it('without a default route, resets a client whose name matches no route', async () => {
    await expect(tlsClient(proxy.port('strict'), 'other.example.test')).rejects.toThrow(/ECONNRESET|socket disconnected/);
    expect((await tlsClient(proxy.port('strict'), 'alpha.example.test', 'alpha')).greeting).toBe('hello from alpha\n');
  });

  it('resets bytes that are not TLS, and a client that sends no ClientHello within timeoutMs', async () => {
    const plain = await connectAndWait(proxy.port('tls'), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(plain.how).toBe('reset');
    const silent = await connectAndWait(proxy.port('tls'));
    expect(silent.how).toBe('reset');
    expect(silent.ms).toBeGreaterThan(450);
    expect(silent.ms).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 1100));
    const stats = JSON.parse((await adminGet(proxy.adminPort, '/stats')).body) as { tcp: Record<string, { closeReasons: Record<string, number> }> };
    expect(stats.tcp.tls?.closeReasons).toMatchObject({ not_tls: 1, preface_timeout: 1 });
    expect(stats.tcp.strict?.closeReasons.no_route).toBe(1);
  });

  it('puts the server name in the access log', async () => {
    await tlsClient(proxy.port('tls'), 'alpha.example.test', 'alpha');
    await new Promise((r) => setTimeout(r, 100));
    expect(proxy.output()).toContain('"attributes":{"sni":"alpha.example.test"}');
  });
});
