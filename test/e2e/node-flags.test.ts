// The main thread's V8 flags can only come from the command line (core/node-flags.ts): every way we start the
// process passes them, and a start without them says so in its log instead of pausing workers unannounced.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MANTOU_NODE_FLAGS, missingNodeFlags } from '../../core/node-flags.ts';
import { type Launch, startProxy } from '../helpers/proxy-process.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'core/cli.ts');
const BIN = join(ROOT, 'bin/mantou.js');
const WARNING = 'node was started without --no-memory-reducer';
const CONFIG = 'workers: 1\nlisteners:\n  - name: a\n    address: 127.0.0.1\n    port: 0\n    routes: [{ directResponse: { status: 200 } }]\n';
// The shebang's `node` is this test's Node (the pinned one), as under `npm start`.
const PINNED_NODE_FIRST = { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };

/** Everything the proxy logged by its start-up line when started by `launch`; then it is stopped. */
async function startUpLog(launch: Launch): Promise<string> {
  const proxy = await startProxy(CONFIG, PINNED_NODE_FIRST, launch);
  try {
    return proxy.output();
  } finally {
    await proxy.stop();
  }
}

describe('node flags', () => {
  it('recognises the flag in the spellings V8 accepts', () => {
    expect(missingNodeFlags(['--no-memory-reducer', '--single-threaded-gc'])).toEqual([]);
    expect(missingNodeFlags(['--nomemory-reducer', '--single_threaded_gc'])).toEqual([]);
    expect(missingNodeFlags(['--no_memory_reducer', '--single-threaded-gc'])).toEqual([]);
    expect(missingNodeFlags([])).toEqual(['--no-memory-reducer', '--single-threaded-gc']);
    expect(missingNodeFlags(['--memory-reducer', '--single-threaded-gc'])).toEqual(['--no-memory-reducer']);
    expect(missingNodeFlags(['--no-memory-reducer'])).toEqual(['--single-threaded-gc']);
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
    const out = await startUpLog({ command: BIN, args: [] });
    expect(out).not.toContain(WARNING);
  });

  it('a start without them says so in its log, once', async () => {
    const out = await startUpLog({ command: process.execPath, args: [CLI] });
    expect(out.split(WARNING).length - 1).toBe(1);
  });
});
