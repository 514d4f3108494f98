// `npm run bench:history [-- --since 2026-12-01] [-- --dir bench/results]`: the targets over every stored run
// (bench/target-history.ts says why one run is not enough). Runs are read from <dir>/*/results.json, in the order
// of their folders' names (which start with the run's date); --since keeps the folders at or after a prefix.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunResults } from './report.ts';
import { historyReport, type NamedRun } from './target-history.ts';

const { values } = parseArgs({ options: { since: { type: 'string' }, dir: { type: 'string', default: join('bench', 'results') } } });
const dir = values.dir as string;
const since = values.since ?? '';

const runs: NamedRun[] = [];
for (const name of existsSync(dir) ? readdirSync(dir).sort() : []) {
  const file = join(dir, name, 'results.json');
  if (name < since || !existsSync(file)) continue;
  try {
    const results = JSON.parse(readFileSync(file, 'utf8')) as Partial<RunResults>;
    // Other benches' results (filters, offload) have no scenarios.
    if (Array.isArray(results.scenarios)) runs.push({ name, results: results as RunResults });
  } catch (err) {
    console.error(`skipped ${file}: ${(err as Error).message}`);
  }
}
console.log(historyReport(runs));
