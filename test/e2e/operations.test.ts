// What a container or Kubernetes needs of the process: `mantou healthcheck` (the image's HEALTHCHECK) and
// `watchConfig: true` (a ConfigMap update reloads without a signal, including a symlink swap like the kubelet's).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configDump } from '../helpers/admin.ts';
import { request } from '../helpers/http-client.ts';
import { type ProxyProcess, startProxy } from '../helpers/proxy-process.ts';
import { waitFor } from '../helpers/tcp-peers.ts';

const CLI = new URL('../../core/cli.ts', import.meta.url).pathname;

function mantou(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const config = (body: string, watch: boolean) =>
  [
    'workers: 1',
    ...(watch ? ['watchConfig: true'] : []),
    'listeners:',
    '  - name: edge',
    '    address: 127.0.0.1',
    '    port: 0',
    `    routes: [{ directResponse: { status: 200, body: ${body} } }]`,
  ].join('\n');

describe('mantou healthcheck', () => {
  let proxy: ProxyProcess;
  afterAll(async () => {
    await proxy?.stop();
  });

  it('exits 0 when /ready answers 200 (admin port from --admin or from the config file), 1 when nothing answers', async () => {
    proxy = await startProxy(config('hello', false));
    const ok = mantou(['healthcheck', '--admin', `127.0.0.1:${proxy.adminPort}`]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ready: 200');
    const file = join(mkdtempSync(join(tmpdir(), 'mantou-hc-')), 'm.yaml');
    writeFileSync(file, `admin: { address: 0.0.0.0, port: ${proxy.adminPort} }\nlisteners: []\n`);
    expect(mantou(['healthcheck', '-c', file]).code).toBe(0);
    await proxy.stop();
    const down = mantou(['healthcheck', '--admin', String(proxy.adminPort)]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/not ready: 127\.0\.0\.1:\d+ ECONNREFUSED/);
    expect(mantou(['healthcheck', '--admin', 'nonsense']).code).toBe(1);
  });
});

describe('watchConfig', () => {
  let proxy: ProxyProcess;
  afterAll(async () => {
    await proxy?.stop();
  });

  async function body(): Promise<string> {
    return (await request({ port: proxy.port('edge'), path: '/' })).body.toString();
  }

  it('reloads when the file changes, refuses a bad change, and follows a ConfigMap-style symlink swap', async () => {
    // The kubelet's layout: mantou.yaml → ..data/mantou.yaml, ..data → a timestamped directory swapped by rename.
    const dir = mkdtempSync(join(tmpdir(), 'mantou-watch-'));
    const version = (name: string, text: string) => {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'mantou.yaml'), text);
    };
    proxy = await startProxy(config('one', true));
    const port = proxy.port('edge');
    const pinned = (b: string) => config(b, true).replace('port: 0', `port: ${port}`) + `\nadmin: { port: ${proxy.adminPort} }\n`;
    expect(await body()).toBe('one');

    // 1. The file itself is rewritten: picked up within a couple of seconds, no signal sent.
    writeFileSync(proxy.configFile, pinned('two'));
    await waitFor(async () => (await body()) === 'two', 5000);

    // 2. A broken file is refused like a bad SIGHUP: the running config stays, the error is shown.
    writeFileSync(proxy.configFile, 'listeners: [oops\n');
    await waitFor(async () => (await configDump(proxy.adminPort)).lastReloadError !== null, 5000);
    expect(await body()).toBe('two');

    // 3. The config path becomes a symlink through ..data; swapping ..data (a rename) is a change too.
    version('v1', pinned('three'));
    symlinkSync('v1', join(dir, '..data'));
    symlinkSync(join(dir, '..data', 'mantou.yaml'), `${proxy.configFile}.link`);
    renameSync(`${proxy.configFile}.link`, proxy.configFile);
    await waitFor(async () => (await body()) === 'three', 5000);
    version('v2', pinned('four'));
    symlinkSync('v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(async () => (await body()) === 'four', 5000);
    expect((await configDump(proxy.adminPort)).generation).toBeGreaterThanOrEqual(4);
  });

  it('starts watching when a SIGHUP turns watchConfig on, and stops when one turns it off', async () => {
    await proxy?.stop();
    proxy = await startProxy(config('one', false));
    const port = proxy.port('edge');
    const pinned = (b: string, watch: boolean) => config(b, watch).replace('port: 0', `port: ${port}`) + `\nadmin: { port: ${proxy.adminPort} }\n`;
    // Off: a change alone is not picked up.
    writeFileSync(proxy.configFile, pinned('two', true));
    await new Promise((r) => setTimeout(r, 2500));
    expect(await body()).toBe('one');
    // The SIGHUP loads it, and with it the watch: the next change needs no signal.
    proxy.child.kill('SIGHUP');
    await waitFor(async () => (await body()) === 'two', 5000);
    writeFileSync(proxy.configFile, pinned('three', false));
    await waitFor(async () => (await body()) === 'three', 5000);
    // That change turned the watch off again.
    writeFileSync(proxy.configFile, pinned('four', false));
    await new Promise((r) => setTimeout(r, 2500));
    expect(await body()).toBe('three');
  }, 30_000);
});
