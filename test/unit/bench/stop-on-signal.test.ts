// The bench scripts' interruption path (bench/candidates.ts stopOnSignal) in a real child process: a script that
// registered it and is waiting is sent SIGTERM (or SIGINT), must run its stop function — which stops what it
// started — and exit 130. And `npm run bench -- --rounds` refuses a bad count before it starts anything.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CANDIDATES = new URL('../../../bench/candidates.ts', import.meta.url).href;
const RUN = new URL('../../../bench/run.ts', import.meta.url).pathname;

/** Runs `source` as an ES module; resolves with its exit code and output once it exits. */
function runScript(source: string, signalAfterReady?: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'mantou-stop-on-signal-'));
  const file = join(dir, 'script.ts');
  writeFileSync(file, source);
  return spawnAndWait([file], signalAfterReady).finally(() => rmSync(dir, { recursive: true, force: true }));
}

function spawnAndWait(args: string[], signalAfterReady?: NodeJS.Signals): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (signalAfterReady !== undefined && out.includes('ready')) {
        child.kill(signalAfterReady);
        signalAfterReady = undefined;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

const WAITING_SCRIPT = `
import { stopOnSignal } from ${JSON.stringify(CANDIDATES)};
// Something the script started: a timer standing in for a child process. Without the handler it would keep the
// process alive for a minute.
const started = setTimeout(() => console.log('not stopped'), 60_000);
stopOnSignal(async () => {
  clearTimeout(started);
  await new Promise((r) => setTimeout(r, 20));
  console.log('stopped what it started');
});
console.log('ready');
`;

describe('bench interruption', () => {
  it('on SIGTERM runs the stop function, waits for it, and exits 130', async () => {
    const r = await runScript(WAITING_SCRIPT, 'SIGTERM');
    expect(r.out).toContain('SIGTERM: stopping what the bench started');
    expect(r.out).toContain('stopped what it started');
    expect(r.code).toBe(130);
  });

  it('does the same on SIGINT (Ctrl-C)', async () => {
    const r = await runScript(WAITING_SCRIPT, 'SIGINT');
    expect(r.out).toContain('stopped what it started');
    expect(r.code).toBe(130);
  });

  it('refuses a --rounds that is not a whole number of at least 1', async () => {
    for (const bad of [['--rounds', '0'], ['--rounds', 'x'], ['--rounds=1.5']]) {
      const r = await spawnAndWait([RUN, ...bad]);
      expect(r.code).toBe(2);
      expect(r.out).toContain('--rounds wants a whole number');
    }
  });

  it('so do bench:filters and bench:offload, before they start anything', async () => {
    for (const script of ['filters.ts', 'offload.ts']) {
      const r = await spawnAndWait([new URL(`../../../bench/${script}`, import.meta.url).pathname, '--rounds', '0']);
      expect(r.code).toBe(2);
      expect(r.out).toContain('--rounds wants a whole number of rounds, at least 1 (got 0)');
    }
  });
});
