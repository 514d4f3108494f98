// Custom filters and SIGHUP: a changed module file is loaded again (its URL carries a hash of its content), and
// a module that no longer loads is refused like any invalid config, with the old code still serving. The module
// lives outside the project and imports the filter API as 'mantou'.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configDump } from '../helpers/admin.ts';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { request } from '../helpers/http-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'mantou-filter-'));
const modulePath = join(dir, 'stamp.ts');

function writeStamp(version: string): void {
  writeFileSync(
    modulePath,
    `import { defineFilter, T } from 'mantou';
export default defineFilter({
  name: 'stamp',
  config: T.Object({}),
  create: () => ({ onResponse(res) { res.headers.set('x-stamp', '${version}'); } }),
});
`,
  );
}

writeStamp('v1');
// Relative to the config file, which the helper writes in a directory of its own beside ours.
const setup = echoProxy(`
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    filters: [{ name: stamp, module: ../${basename(dir)}/stamp.ts }]
    routes: [{ cluster: echo }]
`);

const stamp = async () => String((await request({ port: setup.port, path: '/' })).headers['x-stamp']);

describe('custom filter reload', () => {
  it('loads a changed filter module on SIGHUP, and refuses one that no longer loads', async () => {
    expect(await stamp()).toBe('v1');
    writeStamp('v2');
    process.kill(setup.proxy.pid, 'SIGHUP');
    await expect.poll(stamp, { timeout: 5000 }).toBe('v2');

    writeFileSync(modulePath, 'export default {\n');
    process.kill(setup.proxy.pid, 'SIGHUP');
    await expect
      .poll(async () => (await configDump(setup.proxy.adminPort)).lastReloadError?.message ?? '', { timeout: 5000 })
      .toMatch(/filters\[0\]\.module: cannot load filter module .*stamp\.ts/);
    expect(await stamp()).toBe('v2');
  });
});
