// The main thread strips TypeScript for its process's threads (core/type-stripping/shared-type-stripping.js):
// real processes, real worker threads, real files. Each case runs a fresh node process whose main thread serves (or
// not) and whose worker imports TypeScript modules, then reports what it got and whether it loaded Node's stripper
// (amaro) itself.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const SHARED = new URL('../../../../core/type-stripping/shared-type-stripping.js', import.meta.url).href;

interface ThreadReport {
  values: unknown[];
  errors: string[];
  counts: { byMainThread: number; local: number };
  ownStripper: boolean;
}

let dir = '';
const file = (relative: string) => pathToFileURL(join(dir, relative)).href;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'type-stripping-'));
  for (const sub of ['esm', 'typeless', 'cjs']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'esm/package.json'), '{ "type": "module" }');
  writeFileSync(join(dir, 'esm/a.ts'), "import { b } from './b.ts';\ntype N = number;\nexport const value: N = b + 1;\n");
  writeFileSync(join(dir, 'esm/b.ts'), 'export const b: number = 41;\n');
  writeFileSync(join(dir, 'esm/broken.ts'), 'export const value: number = (;\n');
  writeFileSync(join(dir, 'esm/edited.ts'), "export const value: string = 'before';\n");
  // No package.json up the tree (under the run's temporary root): Node detects the syntax.
  writeFileSync(join(dir, 'typeless/filter.ts'), 'interface Options { n: number }\nconst o: Options = { n: 7 };\nexport const value = o.n;\n');
  writeFileSync(join(dir, 'cjs/package.json'), '{ "type": "commonjs" }');
  writeFileSync(join(dir, 'cjs/c.ts'), 'const value: number = 3;\nmodule.exports = { value };\n');
  writeFileSync(
    join(dir, 'thread.mjs'),
    `import { writeFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { typeStrippingCounts, useMainThreadTypeStripping } from '${SHARED}';
useMainThreadTypeStripping();
const values = [];
const errors = [];
for (const target of workerData.targets) {
  if (target.startsWith('edit:')) { writeFileSync(new URL(workerData.edit.url), workerData.edit.text); continue; }
  try { values.push((await import(target)).value); } catch (err) { errors.push(err.code ?? String(err)); }
}
parentPort.postMessage({ values, errors, counts: typeStrippingCounts, ownStripper: process.moduleLoadList.some((m) => m.includes('amaro')) });
`,
  );
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { Worker } from 'node:worker_threads';
import { serveTypeStripping } from '${SHARED}';
const { serve, targets, edit } = JSON.parse(process.argv[2]);
if (serve) serveTypeStripping();
const worker = new Worker(new URL('./thread.mjs', import.meta.url), { workerData: { targets, edit } });
worker.on('message', (m) => { process.stdout.write(JSON.stringify(m)); process.exit(0); });
worker.on('error', (err) => { process.stdout.write(JSON.stringify({ error: String(err) })); process.exit(1); });
`,
  );
});

function runThread(serve: boolean, targets: string[], edit?: { url: string; text: string }): ThreadReport {
  const r = spawnSync(process.execPath, [join(dir, 'main.mjs'), JSON.stringify({ serve, targets, edit })], { encoding: 'utf8', timeout: 20_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ThreadReport;
}

describe('TypeScript stripped by the main thread for its threads', () => {
  it('serves an ES module and its imports: the thread never loads a stripper of its own', () => {
    const r = runThread(true, [file('esm/a.ts')]);
    expect(r.values).toEqual([42]);
    expect(r.counts).toEqual({ byMainThread: 2, local: 0 });
    expect(r.ownStripper).toBe(false);
  });

  it('serves a file with no package type whose syntax is ESM (a filter in /etc/mantou)', () => {
    const r = runThread(true, [file('typeless/filter.ts')]);
    expect(r.values).toEqual([7]);
    expect(r.counts).toEqual({ byMainThread: 1, local: 0 });
    expect(r.ownStripper).toBe(false);
  });

  it('leaves a CommonJS module to the thread, which loads it as Node would', () => {
    const r = runThread(true, [file('cjs/c.ts')]);
    expect(r.values).toEqual([3]);
    expect(r.counts).toEqual({ byMainThread: 0, local: 1 });
    expect(r.ownStripper).toBe(true);
  });

  it("reports a syntax error with Node's own error", () => {
    const served = runThread(true, [file('esm/broken.ts')]);
    const unserved = runThread(false, [file('esm/broken.ts')]);
    expect(served.errors).toEqual(['ERR_INVALID_TYPESCRIPT_SYNTAX']);
    expect(served.errors).toEqual(unserved.errors);
  });

  it('strips a file again when its content changed (a filter edited before a reload)', () => {
    const url = file('esm/edited.ts');
    const r = runThread(true, [`${url}?v=1`, 'edit:', `${url}?v=2`], { url, text: "export const value: string = 'after';\n" });
    expect(r.values).toEqual(['before', 'after']);
    expect(r.ownStripper).toBe(false);
  });

  it('does nothing in a process whose main thread does not serve: the thread strips for itself', () => {
    const r = runThread(false, [file('esm/a.ts')]);
    expect(r.values).toEqual([42]);
    expect(r.counts).toEqual({ byMainThread: 0, local: 0 });
    expect(r.ownStripper).toBe(true);
  });
});
