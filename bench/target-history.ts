// The targets read across many runs instead of one. On this VM one run's latency verdicts move with the hour
// (bench/wake-floor.ts): a cell met by 3 µs in one run is missed by 700 in the next. Two readings survive the noise:
// how often each target was met over the runs, and — finer — how often Mantou's round came out at or below
// nginx's round beside it (the rounds go round-robin, so round i of each was measured seconds apart, in the same
// weather). Near 50% of round pairs is a tie, however the single runs fell.

import type { RunResults } from './report.ts';
import { TARGET_CANDIDATE, TARGET_SCENARIO, targetVerdicts } from './targets.ts';

/** A run as found on disk: its folder's name (which starts with its date) and its results. */
export interface NamedRun {
  name: string;
  results: RunResults;
}

/** One target over the runs that could tell. */
export interface TargetTally {
  target: string;
  met: number;
  runs: number;
}

/** One latency cell's round pairs (Mantou's round i against nginx's round i) over the runs. */
export interface RoundPairs {
  rate: number;
  percentile: 'p50' | 'p99';
  /** Pairs in which Mantou's round was at or below nginx's. */
  atOrBelow: number;
  pairs: number;
}

/** Each run's verdicts, one character per target ("M" met, "-" missed, "?" cannot tell), and the targets' names. */
export function verdictLines(runs: readonly NamedRun[]): { targets: string[]; lines: string[] } {
  let targets: string[] = [];
  const lines: string[] = [];
  for (const run of runs) {
    const v = targetVerdicts(run.results);
    if (v.length === 0) continue;
    if (targets.length === 0) targets = v.map((x) => x.target);
    lines.push(`${run.name}  ${v.map((x) => (x.met === null ? '?' : x.met ? 'M' : '-')).join('')}`);
  }
  return { targets, lines };
}

/** How often each target was met, counting only the runs that could tell. */
export function targetTallies(runs: readonly NamedRun[]): TargetTally[] {
  const tallies = new Map<string, TargetTally>();
  for (const run of runs) {
    for (const v of targetVerdicts(run.results)) {
      const t = tallies.get(v.target) ?? { target: v.target, met: 0, runs: 0 };
      if (v.met !== null) {
        t.runs++;
        if (v.met) t.met++;
      }
      tallies.set(v.target, t);
    }
  }
  return [...tallies.values()];
}

/** The latency cells' round pairs, Mantou's one-core candidate against nginx, over every run that has both. */
export function roundPairs(runs: readonly NamedRun[]): RoundPairs[] {
  const out = new Map<string, RoundPairs>();
  for (const run of runs) {
    const s = run.results.scenarios.find((x) => x.name === TARGET_SCENARIO);
    const mantou = s?.cells.find((c) => c.candidate === TARGET_CANDIDATE);
    const nginx = s?.cells.find((c) => c.candidate === 'nginx');
    if (!mantou || !nginx) continue;
    for (const ours of mantou.latency) {
      const theirs = nginx.latency.find((l) => l.rate === ours.rate);
      if (!theirs) continue;
      for (const percentile of ['p50', 'p99'] as const) {
        const key = `${ours.rate} ${percentile}`;
        const t = out.get(key) ?? { rate: ours.rate, percentile, atOrBelow: 0, pairs: 0 };
        const n = Math.min(ours.rounds.length, theirs.rounds.length);
        for (let i = 0; i < n; i++) {
          t.pairs++;
          if ((ours.rounds[i]?.[percentile] as number) <= (theirs.rounds[i]?.[percentile] as number)) t.atOrBelow++;
        }
        out.set(key, t);
      }
    }
  }
  return [...out.values()].sort((a, b) => a.rate - b.rate || a.percentile.localeCompare(b.percentile));
}

/** The history as text: the runs' verdict lines, the tallies and the round pairs. */
export function historyReport(runs: readonly NamedRun[]): string {
  const { targets, lines } = verdictLines(runs);
  if (lines.length === 0) return `no run with ${TARGET_SCENARIO} measured for ${TARGET_CANDIDATE}`;
  const pct = (a: number, n: number) => (n === 0 ? '—' : `${Math.round((100 * a) / n)}%`);
  return [
    `Targets over ${lines.length} runs (${TARGET_SCENARIO}, ${TARGET_CANDIDATE}); one character a target, in this order:`,
    ...targets.map((t, i) => `  ${i + 1}. ${t}`),
    'M met, - missed, ? the run cannot tell',
    '',
    ...lines,
    '',
    ...targetTallies(runs).map((t) => `${t.target}: met in ${t.met} of ${t.runs} runs (${pct(t.met, t.runs)})`),
    '',
    'Round pairs (round i of Mantou against round i of nginx, measured seconds apart):',
    ...roundPairs(runs).map(
      (p) => `  ${p.percentile} at ${p.rate} req/s: Mantou at or below nginx in ${p.atOrBelow} of ${p.pairs} (${pct(p.atOrBelow, p.pairs)})`,
    ),
  ].join('\n');
}
