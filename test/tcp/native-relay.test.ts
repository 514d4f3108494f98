// What only the native TCP relay (native/l4-*.c) can get wrong: a worker that dies with native sessions open
// (its sockets must be closed in the thread's teardown, or Node aborts the process), and a reload that gives a
// filterless listener a filter (the listener keeps its socket; new sessions are handed to the JavaScript relay,
// running ones stay native). The relay itself (bytes, half-close, timeouts, retries) is in tcp-proxy.test.ts.

import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { adminPost, crashWorkerHolding } from '../helpers/admin.ts';
import { startProxy } from '../helpers/proxy-process.ts';
import { connectAndWait, openConnection, readBytes, startEchoTcpServer, waitFor } from '../helpers/tcp-peers.ts';

function config(echoPort: number, filters: string): string {
  return [
    'workers: 1',
    'listeners:',
    '  - name: echo',
    '    protocol: tcp',
    '    address: 127.0.0.1',
    '    port: 0',
    '    cluster: echo',
    filters,
    'clusters:',
    `  - { name: echo, endpoints: [{ address: 127.0.0.1, port: ${echoPort} }] }`,
  ]
    .filter((l) => l !== '')
    .join('\n');
}

async function echoes(port: number, payload: string): Promise<string> {
  const ending = await connectAndWait(port, payload, 5000, true);
  return `${ending.how}:${ending.received.toString()}`;
}

describe('native TCP relay', () => {
  it('survives a worker that dies with native sessions open: they end, the restarted worker serves', async () => {
    const echo = await startEchoTcpServer();
    const proxy = await startProxy(config(echo.port, ''), { MANTOU_TEST_HOOKS: '1' });
    try {
      expect(proxy.output()).toContain('"relay":"native"');
      const held = await Promise.all([openConnection(proxy.port('echo')), openConnection(proxy.port('echo'))]);
      for (const c of held) c.on('error', () => {});
      await waitFor(() => echo.open === 2);
      held[0]?.write('still there');
      expect((await readBytes(held[0] as NonNullable<(typeof held)[0]>, 11)).toString()).toBe('still there');
      // The worker's teardown closes its native sessions: a FIN each.
      await crashWorkerHolding(proxy.adminPort, held);
      expect(await echoes(proxy.port('echo'), 'after')).toBe('fin:after');
      await waitFor(() => echo.open === 0);
    } finally {
      expect(proxy.child.exitCode).toBe(null);
      await proxy.stop();
      await echo.close();
    }
  });

  it('hands new sessions to the filters a reload added; a session already running stays as it was', async () => {
    const echo = await startEchoTcpServer();
    const proxy = await startProxy(config(echo.port, ''));
    try {
      const running = await openConnection(proxy.port('echo'));
      running.write('before');
      expect((await readBytes(running, 6)).toString()).toBe('before');
      // Deny everyone: with the filter, a new session is reset before any upstream is connected.
      writeFileSync(proxy.configFile, config(echo.port, "    filters: [{ name: ip-access, config: { deny: ['127.0.0.0/8'] } }]"));
      expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
      expect((await connectAndWait(proxy.port('echo'), 'denied')).how).toBe('reset');
      running.write('after');
      expect((await readBytes(running, 5)).toString()).toBe('after');
      running.end();
      // And back: without filters, sessions run natively again on the same socket.
      writeFileSync(proxy.configFile, config(echo.port, ''));
      expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
      expect(await echoes(proxy.port('echo'), 'again')).toBe('fin:again');
    } finally {
      await proxy.stop();
      await echo.close();
    }
  });
});
