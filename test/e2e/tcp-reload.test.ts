// Reloading a config with TCP listeners: sessions keep the generation they started on (their cluster), new
// sessions use the new one at once, and a removed TCP listener stops accepting while its sessions drain until
// drain.timeoutMs; the listen socket of an unchanged listener is kept.

import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminPost } from '../helpers/admin.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { connectAndWait, openConnection, readBytes, startTcpServer, type TcpServer } from '../helpers/tcp-peers.ts';

/** An upstream that answers every chunk with its tag and the chunk: "A:ping". */
function startTagger(tag: string): Promise<TcpServer> {
  return startTcpServer((s) => {
    s.on('data', (d: Buffer) => s.write(`${tag}:${d}`));
    s.on('end', () => s.end());
  });
}

async function ask(c: net.Socket, text: string): Promise<string> {
  const answer = readBytes(c, text.length + 2);
  c.write(text);
  return (await answer).toString();
}

describe('reload with TCP listeners', () => {
  let a: TcpServer;
  let b: TcpServer;
  let proxy: ProxyProcess;
  let dbPort = 0;
  let oldPort = 0;

  const config = (dbCluster: string, withOld: boolean) =>
    [
      'workers: 2',
      `admin: { port: ${proxy?.adminPort ?? 0} }`,
      'drain: { timeoutMs: 1500 }',
      'listeners:',
      `  - { name: db, protocol: tcp, address: 127.0.0.1, port: ${dbPort}, cluster: ${dbCluster} }`,
      ...(withOld ? [`  - { name: old, protocol: tcp, address: 127.0.0.1, port: ${oldPort}, cluster: a }`] : []),
      'clusters:',
      `  - { name: a, endpoints: [{ address: 127.0.0.1, port: ${a.port} }] }`,
      `  - { name: b, endpoints: [{ address: 127.0.0.1, port: ${b.port} }] }`,
    ].join('\n');

  beforeAll(async () => {
    a = await startTagger('A');
    b = await startTagger('B');
    proxy = await startProxy(config('a', true));
    dbPort = proxy.port('db');
    oldPort = proxy.port('old');
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  it('keeps running sessions on their generation, sends new ones to the new cluster, and drains a removed listener', async () => {
    const onDb = await openConnection(dbPort);
    const onOld = await openConnection(oldPort);
    expect(await ask(onDb, 'one')).toBe('A:one');
    expect(await ask(onOld, 'one')).toBe('A:one');

    writeFileSync(proxy.configFile, config('b', false));
    const reload = await adminPost(proxy.adminPort, '/reload');
    expect(reload.status).toBe(200);

    // The running sessions still talk to their upstream, on both listeners.
    expect(await ask(onDb, 'two')).toBe('A:two');
    expect(await ask(onOld, 'two')).toBe('A:two');
    // New sessions on the kept listener (same port, never closed) go to the new cluster.
    for (let i = 0; i < 4; i++) expect((await connectAndWait(dbPort, 'new', 5000, true)).received.toString()).toBe('B:new');
    // The removed listener accepts nothing new.
    expect((await connectAndWait(oldPort, 'x')).how).toBe('ECONNREFUSED');

    // Past drain.timeoutMs the removed listener's sessions are closed; the kept listener's session lives on.
    const oldClosed = new Promise((r) => onOld.once('end', r));
    onOld.on('error', () => {});
    const started = performance.now();
    await oldClosed;
    expect(performance.now() - started).toBeLessThan(3000);
    expect(await ask(onDb, 'three')).toBe('A:three');
    onDb.end();
  });
});

describe('drain with TCP sessions', () => {
  it('on SIGTERM stops accepting, lets open sessions run, and exits 0 once they end', async () => {
    const tagger = await startTagger('T');
    const proxy = await startProxy(
      [
        'workers: 1',
        'drain: { timeoutMs: 20000 }',
        'listeners:',
        '  - { name: db, protocol: tcp, address: 127.0.0.1, port: 0, cluster: t }',
        'clusters:',
        `  - { name: t, endpoints: [{ address: 127.0.0.1, port: ${tagger.port} }] }`,
      ].join('\n'),
    );
    try {
      const session = await openConnection(proxy.port('db'));
      expect(await ask(session, 'before')).toBe('T:before');
      const exited = new Promise<number | null>((resolve) => proxy.child.once('exit', (code) => resolve(code)));
      proxy.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      // Still running for the open session, which still works; new connections are refused.
      expect(proxy.child.exitCode).toBeNull();
      expect(await ask(session, 'during')).toBe('T:during');
      expect((await connectAndWait(proxy.port('db'), 'x')).how).toBe('ECONNREFUSED');
      const endedAt = performance.now();
      session.end();
      expect(await exited).toBe(0);
      expect(performance.now() - endedAt).toBeLessThan(3000);
    } finally {
      await proxy.stop();
      await tagger.close();
    }
  });
});
