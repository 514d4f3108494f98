// Hot reload through the real CLI: SIGHUP under steady load loses nothing, responses switch within a second,
// long streams survive reloads, bad configs are refused without disturbing the running one.

import { writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminGet, adminPost, configDump } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { type Server, startEchoServer, startRawUpstream } from '../helpers/upstreams.ts';

let echo: Server;
let streamer: Awaited<ReturnType<typeof startRawUpstream>>;
let proxy: ProxyProcess;
let port: number;

/** The same proxy with one visible difference (x-config), so a test can tell which generation answered. */
function config(name: string, extraListener = false, engine: 'uws' | 'net' = 'uws'): string {
  return `workers: 2
admin: { port: ${proxy?.adminPort ?? 0} }
listeners:
  - name: edge
    address: 127.0.0.1
    port: ${proxy ? port : 0}
    engine: ${engine}
    routes:
      - { match: { path: { prefix: /stream } }, cluster: streamer, timeoutMs: 60000 }
      - match: { path: { prefix: / } }
        cluster: echo
        responseHeaders: { set: { x-config: ${name} } }
${extraListener ? '  - name: extra\n    address: 127.0.0.1\n    port: 0\n    routes: [{ directResponse: { status: 200, body: extra } }]\n' : ''}clusters:
  - name: echo
    endpoints: [{ address: 127.0.0.1, port: ${echo.port} }]
  - name: streamer
    endpoints: [{ address: 127.0.0.1, port: ${streamer.port} }]
`;
}

function writeConfig(text: string): void {
  writeFileSync(proxy.configFile, text);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  echo = await startEchoServer();
  // 40 chunks of 1 KiB, one every 50 ms: a 2 s response that spans several reloads.
  streamer = await startRawUpstream((socket) => {
    socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    let n = 0;
    const timer = setInterval(() => {
      socket.write(`400\r\n${String(n % 10).repeat(1024)}\r\n`);
      if (++n === 40) {
        clearInterval(timer);
        socket.write('0\r\n\r\n');
      }
    }, 50);
    socket.on('close', () => clearInterval(timer));
  });
  proxy = await startProxy(config('A'));
  port = proxy.port('edge');
  writeConfig(config('A'));
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.close();
  await streamer?.close();
});

async function configSeen(agent: http.Agent | false): Promise<string> {
  const r = await request({ port, path: '/which', agent });
  return String(r.headers['x-config']);
}

describe('hot reload', () => {
  it('loses no request across 32 SIGHUPs under load, and switches within one second of each', async () => {
    let stop = false;
    const failures: string[] = [];
    let completed = 0;
    const samples: { t: number; config: string }[] = [];
    const loop = async (agent: http.Agent | false) => {
      while (!stop) {
        const t = performance.now();
        try {
          const r = await request({ port, path: '/load', agent, headers: agent === false ? { connection: 'close' } : {} });
          if (r.status !== 200) failures.push(`status ${r.status}`);
          samples.push({ t, config: String(r.headers['x-config']) });
          completed++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const loops = [loop(keepAlive), loop(keepAlive), loop(keepAlive), loop(keepAlive), loop(false)];
    const switches: number[] = [];
    const reloadTimes: { t: number; expect: string }[] = [];
    const deadline = performance.now() + 60_000;
    for (let i = 0; i < 32 && performance.now() < deadline; i++) {
      const next = i % 2 === 0 ? 'B' : 'A';
      writeConfig(config(next));
      const t0 = performance.now();
      process.kill(proxy.pid, 'SIGHUP');
      // Every worker must serve the new config: ask until two fresh connections in a row see it.
      let streak = 0;
      while (streak < 2 && performance.now() - t0 < 2000) streak = (await configSeen(false)) === next ? streak + 1 : 0;
      switches.push(performance.now() - t0);
      reloadTimes.push({ t: performance.now(), expect: next });
      await sleep(150);
    }
    stop = true;
    await Promise.all(loops);
    keepAlive.destroy();
    expect(failures).toEqual([]);
    expect(completed).toBeGreaterThan(200);
    expect(switches).toHaveLength(32);
    expect(Math.max(...switches)).toBeLessThan(1000);
    // Requests that started 50 ms after a switch was seen, and before the next reload, saw the new config.
    for (const [k, r] of reloadTimes.entries()) {
      const end = reloadTimes[k + 1]?.t ?? Number.POSITIVE_INFINITY;
      const stale = samples.filter((s) => s.t > r.t + 50 && s.t < end - 200 && s.config !== r.expect);
      expect(stale, `reload ${k}`).toEqual([]);
    }
    expect((await configDump(proxy.adminPort)).counters.reloads).toBeGreaterThanOrEqual(32);
  }, 90_000);

  it('completes a long streaming response intact across five reloads', async () => {
    const body = new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => s.write('GET /stream HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'));
      let data = '';
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
      });
      s.on('error', reject);
      s.on('close', () => resolve(data));
    });
    for (let i = 0; i < 5; i++) {
      await sleep(250);
      writeConfig(config(i % 2 === 0 ? 'B' : 'A'));
      process.kill(proxy.pid, 'SIGHUP');
    }
    const raw = await body;
    expect(raw).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(raw.endsWith('0\r\n\r\n')).toBe(true);
    let decoded = '';
    for (const m of raw.slice(raw.indexOf('\r\n\r\n') + 4).matchAll(/([0-9a-f]+)\r\n([^\r]*)\r\n/g)) decoded += m[2];
    expect(decoded.length).toBe(40 * 1024);
    for (let n = 0; n < 40; n++) expect(decoded.slice(n * 1024, (n + 1) * 1024)).toBe(String(n % 10).repeat(1024));
  }, 30_000);

  it('refuses an invalid config, keeps serving the running one and reports where the error is', async () => {
    writeConfig(config('A'));
    expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
    const before = await configDump(proxy.adminPort);
    writeConfig(config('A').replace('cluster: echo', 'cluster: ech0'));
    process.kill(proxy.pid, 'SIGHUP');
    await expect.poll(async () => (await configDump(proxy.adminPort)).lastReloadError?.message ?? '').toContain('unknown cluster "ech0"');
    const dump = await configDump(proxy.adminPort);
    expect(dump.lastReloadError?.message).toMatch(/mantou\.yaml:\d+:\d+ listeners\[0\]\.routes\[1\]\.cluster: unknown cluster "ech0"/);
    expect(dump.generation).toBe(before.generation);
    expect(await configSeen(false)).toBe('A');
    const viaAdmin = await adminPost(proxy.adminPort, '/reload');
    expect(viaAdmin.status).toBe(400);
    expect(viaAdmin.body).toContain('unknown cluster');
    expect((await adminGet(proxy.adminPort, '/ready')).status).toBe(200);
    writeConfig(config('B'));
    expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
    expect(await configSeen(false)).toBe('B');
  });

  it('coalesces reloads requested while one is running', async () => {
    const before = (await configDump(proxy.adminPort)).generation;
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => adminPost(proxy.adminPort, '/reload')));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const after = (await configDump(proxy.adminPort)).generation;
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(5);
  });

  it('opens an added listener and stops accepting on a removed one', async () => {
    writeConfig(config('A', true));
    expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
    const extra = (await configDump(proxy.adminPort)).config.listeners.find((l) => l.name === 'extra');
    expect(extra?.port).toBeGreaterThan(0);
    const res = await request({ port: extra?.port as number, path: '/' });
    expect(res.body.toString()).toBe('extra');
    writeConfig(config('A'));
    expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
    await expect(request({ port: extra?.port as number, path: '/' })).rejects.toThrow(/ECONNREFUSED/);
    expect(await configSeen(false)).toBe('A');
  });

  it('moves a listener to the other engine on reload, on the same port, and back', async () => {
    // uWS refuses HTTP/1.0 (505); the net engine serves it: which engine answers is visible from outside.
    const http10 = async () => statusOf((await rawExchange(port, 'GET /which HTTP/1.0\r\n\r\n', 1000)).data);
    expect(await http10()).toBe(505);
    for (const [engine, status] of [
      ['net', 200],
      ['uws', 505],
    ] as const) {
      const before = new http.Agent({ keepAlive: true, maxSockets: 1 });
      expect((await request({ port, path: '/before', agent: before })).status).toBe(200);
      writeConfig(config('A', false, engine));
      process.kill(proxy.pid, 'SIGHUP');
      await expect.poll(http10, { timeout: 5000 }).toBe(status);
      // New connections all reach the new engine; a connection the old one accepted still finishes its requests.
      for (let i = 0; i < 20; i++) expect((await request({ port, path: `/after/${i}`, agent: false })).status).toBe(200);
      expect((await request({ port, path: '/old-connection', agent: before })).status).toBe(200);
      before.destroy();
    }
    expect(await configSeen(false)).toBe('A');
  }, 30_000);

  it('keeps the upstream pools of unchanged clusters across reloads', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 20; i++) await request({ port, path: '/warm', agent });
    const before = echo.connections;
    for (let i = 0; i < 3; i++) {
      writeConfig(config(i % 2 === 0 ? 'B' : 'A'));
      expect((await adminPost(proxy.adminPort, '/reload')).status).toBe(200);
      for (let j = 0; j < 10; j++) expect((await request({ port, path: '/after', agent })).status).toBe(200);
    }
    agent.destroy();
    // Sequential requests on one client connection: warm pooled upstream connections serve all of them.
    expect(echo.connections).toBe(before);
  });

  it('serves admin endpoints with the right methods', async () => {
    expect((await adminGet(proxy.adminPort, '/live')).status).toBe(200);
    expect((await adminGet(proxy.adminPort, '/ready')).status).toBe(200);
    expect((await adminGet(proxy.adminPort, '/reload')).status).toBe(405);
    expect((await adminGet(proxy.adminPort, '/drain')).status).toBe(405);
    expect((await adminPost(proxy.adminPort, '/config_dump')).status).toBe(405);
    expect((await adminGet(proxy.adminPort, '/nope')).status).toBe(404);
  });
});
