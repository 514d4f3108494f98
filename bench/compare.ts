// `npm run bench -- --compare <results.json>`: the regressions of this run against an earlier one.
//
// On this VM the hour moves every proxy's latency together, by more than the differences between proxies (the
// floor, bench/wake-floor.ts: an idle round trip across CPUs read 146–174 µs through the afternoon of 2 December,
// 8 µs within one CPU). So where both runs measured the reference peer (nginx) in a scenario, a candidate is compared by
// its ratio to the reference in its own run, and a slow hour flags nothing; absolute values are compared only
// where there is no reference to hold them to, and the notes say when the two runs' floors were unlike.

import type { CellResult, RunResults } from './report.ts';
import { median } from './stats.ts';

export interface Comparison {
  /** How the runs were compared and how alike their hours were: printed, never a regression. */
  notes: string[];
  /** One line per regression beyond the noise band. */
  flags: string[];
}

/** The candidate every other is held to within its run, when both runs have it. */
export const REFERENCE = 'nginx';
/** The smallest noise band: changes under 10% are never flagged. */
const MIN_BAND = 0.1;
/** Floors (p50) further apart than this factor make absolute latencies of two runs incomparable. */
const FLOOR_ALIKE = 1.5;

interface Series {
  values: number[];
  higherIsBetter: boolean;
}

/** Every compared metric of a cell by name: max req/s, and p50 and p99 at each measured rate. */
function seriesOf(c: CellResult): Map<string, Series> {
  const out = new Map<string, Series>();
  out.set('req/s', { values: c.throughput.map((t) => t.rps), higherIsBetter: true });
  for (const l of c.latency) {
    out.set(`p50 µs at ${l.rate}/s`, { values: l.rounds.map((x) => x.p50), higherIsBetter: false });
    out.set(`p99 µs at ${l.rate}/s`, { values: l.rounds.map((x) => x.p99), higherIsBetter: false });
  }
  return out;
}

/** A series' min–max spread relative to its median: its own noise. */
const band = (xs: number[]) => (xs.length > 1 ? (Math.max(...xs) - Math.min(...xs)) / Math.max(1e-9, median(xs)) : 0);
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function floorNotes(before: RunResults, now: RunResults): string[] {
  const a = before.wakeFloor?.before;
  const b = now.wakeFloor?.before;
  if (!a || !b) return [`floor: not recorded in ${!a && !b ? 'either run' : !a ? 'the earlier run' : 'this run'}`];
  const factor = Math.max(a.p50Us, b.p50Us) / Math.max(1, Math.min(a.p50Us, b.p50Us));
  const alike = factor <= FLOOR_ALIKE;
  return [
    `floor (idle round trip across CPUs, p50): ${a.p50Us} µs in the earlier run, ${b.p50Us} µs in this one — ${
      alike ? 'alike' : `${factor.toFixed(1)}× apart: their absolute latencies do not compare, only ratios within each run`
    }`,
  ];
}

/** Regressions of `now` against `before` (see the file's comment), with notes on how they were compared. */
export function compareRuns(before: RunResults, now: RunResults): Comparison {
  const notes = floorNotes(before, now);
  const flags: string[] = [];
  const relativeIn: string[] = [];
  for (const s of now.scenarios) {
    const old = before.scenarios.find((x) => x.name === s.name);
    if (!old) continue;
    const refNow = s.cells.find((c) => c.candidate === REFERENCE);
    const refOld = old.cells.find((c) => c.candidate === REFERENCE);
    const relative = refNow !== undefined && refOld !== undefined;
    if (relative) relativeIn.push(s.name);
    const refNowSeries = refNow ? seriesOf(refNow) : undefined;
    const refOldSeries = refOld ? seriesOf(refOld) : undefined;
    for (const c of s.cells) {
      // The yardsticks themselves: their change is the hour's, not ours.
      if (relative && (c.candidate === REFERENCE || c.candidate === 'direct')) continue;
      const o = old.cells.find((x) => x.candidate === c.candidate);
      if (!o) continue;
      const oldSeries = seriesOf(o);
      for (const [metric, b] of seriesOf(c)) {
        const a = oldSeries.get(metric);
        if (!a || a.values.length === 0 || b.values.length === 0) continue;
        const ra = refOldSeries?.get(metric)?.values ?? [];
        const rb = refNowSeries?.get(metric)?.values ?? [];
        if (ra.length > 0 && rb.length > 0) {
          const was = median(a.values) / Math.max(1e-9, median(ra));
          const is = median(b.values) / Math.max(1e-9, median(rb));
          const noise = Math.max(MIN_BAND, band(a.values) + band(ra) + band(b.values) + band(rb));
          const change = (is - was) / Math.max(1e-9, was);
          if ((b.higherIsBetter ? -change : change) > noise)
            flags.push(
              `${s.name} / ${c.candidate} / ${metric}, against ${REFERENCE} in the same run: ${was.toFixed(2)}× → ${is.toFixed(2)}× (${change > 0 ? '+' : ''}${pct(change)}, noise band ${pct(noise)})`,
            );
          continue;
        }
        const noise = Math.max(MIN_BAND, band(a.values) + band(b.values));
        const change = (median(b.values) - median(a.values)) / Math.max(1e-9, median(a.values));
        if ((b.higherIsBetter ? -change : change) > noise)
          flags.push(
            `${s.name} / ${c.candidate} / ${metric}: ${median(a.values).toFixed(0)} → ${median(b.values).toFixed(0)} (${change > 0 ? '+' : ''}${pct(change)}, noise band ${pct(noise)})`,
          );
      }
    }
  }
  notes.push(
    relativeIn.length > 0
      ? `compared against ${REFERENCE} in the same run in: ${relativeIn.join(', ')} (${REFERENCE} and direct themselves not flagged there); absolute elsewhere`
      : `no ${REFERENCE} in both runs: compared absolute values`,
  );
  return { notes, flags };
}
