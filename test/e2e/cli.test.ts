import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = new URL('../../core/cli.ts', import.meta.url).pathname;
const DEFAULT_CONFIG = new URL('../../config/default.yaml', import.meta.url).pathname;

function mantou(args: string[], timeoutMs = 10_000) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mantou-cli-')), 'mantou.yaml');
  writeFileSync(file, text);
  return file;
}

describe('mantou CLI', () => {
  it('validates the bundled default config: exit 0', () => {
    const r = mantou(['validate', '-c', DEFAULT_CONFIG]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid');
  });

  it('rejects an invalid config with file:line:col and exit 1, opening no sockets', () => {
    const file = configFile('listeners:\n  - name: a\n    port: 80a\n    routes: [{ directResponse: { status: 200 } }]\n');
    const r = mantou(['validate', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${file}:3:11 listeners[0].port: expected integer 0..65535, got "80a"`);
  });

  it('reports a missing file as a config error', () => {
    const r = mantou(['validate', '-c', '/nonexistent/mantou.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read config file (ENOENT)');
  });

  it('prints the JSON Schema', () => {
    const r = mantou(['config', 'schema']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['listeners', 'clusters']));
  });

  it('prints help and version', () => {
    expect(mantou(['--help']).stdout).toContain('Usage: mantou');
    expect(mantou(['--version']).stdout).toMatch(/^mantou \d+\.\d+\.\d+\n$/);
  });

  it('exits 2 on usage errors', () => {
    expect(mantou(['frobnicate']).code).toBe(2);
    expect(mantou(['run']).code).toBe(2);
    expect(mantou(['--no-such-flag']).code).toBe(2);
    expect(mantou(['config', 'dump']).code).toBe(2);
  });

  it('fails to start with one clear line and exit 1 when a port is in use', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const file = configFile(`listeners:\n  - name: taken\n    address: 127.0.0.1\n    port: ${port}\n    routes: [{ directResponse: { status: 200 } }]\n`);
      const r = mantou(['run', '-c', file]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`listener taken: cannot listen on 127.0.0.1:${port} (in use)`);
    } finally {
      blocker.close();
    }
  });
});
