// How the bench's reports, comparisons and targets read a cell's rounds: the median (of an even count, the lower
// middle value), and whether its throughput rounds measured the load side rather than the candidate.

import type { CellResult } from './report.ts';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** A median load-CPU share at or above which a candidate's throughput rounds measured the load side. */
export const LOAD_BOUND = 0.97;

/** Whether `c`'s throughput rounds kept the load CPU LOAD_BOUND busy (by their median): its max req/s is the load side's. */
export function isLoadBound(c: CellResult): boolean {
  const load = c.throughput.map((t) => t.loadCpuBusy).filter((x): x is number => typeof x === 'number');
  return load.length > 0 && median(load) >= LOAD_BOUND;
}
