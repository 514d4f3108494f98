// The main thread's V8 flags can only come from the command line (core/node-flags.ts): every way we start the
// process passes them, and a start without them says so in its log instead of pausing workers unannounced.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MANTOU_NODE_FLAGS, missingNodeFlags } from '../../core/node-flags.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'core/cli.ts');
const BIN = join(ROOT, 'bin/mantou.js');
const WARNING = 'node was started without --no-memory-reducer';

let running: ChildProcess | null = null;
afterEach(() => {
  running?.kill('SIGKILL');
  running = null;
});

/** Runs `cmd args` on a one-route config until its start-up line; resolves with everything it logged by then. */
function startAndRead(cmd: string, args: string[]): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'mantou-flags-')), 'mantou.yaml');
  writeFileSync(
    file,
    'workers: 1\nadmin: { port: 0 }\nlisteners:\n  - name: a\n    address: 127.0.0.1\n    port: 0\n    routes: [{ directResponse: { status: 200 } }]\n',
  );
  // The shebang's `node` is this test's Node (the pinned one), as under `npm start`.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const child = spawn(cmd, [...args, 'run', '-c', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running = child;
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 10_000);
    const read = (d: Buffer) => {
      out += d.toString();
      if (out.includes('"mantou started"')) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
}

describe('node flags', () => {
  it('recognises the flag in the spellings V8 accepts', () => {
    expect(missingNodeFlags(['--no-memory-reducer'])).toEqual([]);
    expect(missingNodeFlags(['--nomemory-reducer'])).toEqual([]);
    expect(missingNodeFlags(['--no_memory_reducer'])).toEqual([]);
    expect(missingNodeFlags([])).toEqual(['--no-memory-reducer']);
    expect(missingNodeFlags(['--memory-reducer'])).toEqual(['--no-memory-reducer']);
  });

  it('npm start, the Dockerfile and bin/mantou.js all pass them', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1] ?? '';
    const shebang = readFileSync(BIN, 'utf8').split('\n')[0];
    for (const flag of MANTOU_NODE_FLAGS) {
      expect(pkg.scripts.start?.split(' ')).toContain(flag);
      expect(JSON.parse(entrypoint) as string[]).toContain(flag);
      expect(shebang?.split(' ')).toContain(flag);
    }
  });

  it('bin/mantou.js run directly starts with them: no warning', async () => {
    const out = await startAndRead(BIN, []);
    expect(out).not.toContain(WARNING);
  });

  it('a start without them says so in its log, once', async () => {
    const out = await startAndRead(process.execPath, [CLI]);
    expect(out.split(WARNING).length - 1).toBe(1);
  });
});
