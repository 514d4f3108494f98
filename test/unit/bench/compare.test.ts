import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../../bench/compare.ts';
import type { CellResult, RunResults } from '../../../bench/report.ts';
import { cell, run } from './fixtures.ts';

const withFloor = (r: RunResults, p50Us: number): RunResults => ({
  ...r,
  wakeFloor: { before: { p50Us, p99Us: 300, maxUs: 900, samples: 2000 }, after: null },
});

describe('bench compare', () => {
  it('flags an absolute regression beyond the noise band and not one within it, where there is no nginx', () => {
    const before = run([cell('mantou-1w', [40_000, 41_000, 39_000], [300, 300, 300])]);
    expect(compareRuns(before, run([cell('mantou-1w', [39_500, 40_000, 40_500], [310, 305, 300])])).flags).toEqual([]);
    const { flags, notes } = compareRuns(before, run([cell('mantou-1w', [30_000, 30_500, 29_500], [450, 460, 455])]));
    expect(flags.some((f) => f.includes('req/s'))).toBe(true);
    expect(flags.some((f) => f.includes('p50'))).toBe(true);
    expect(notes).toContain('no nginx in both runs: compared absolute values');
    expect(notes).toContain('floor: not recorded in either run');
  });

  it('holds a candidate to nginx in the same run: a slow hour that slowed both flags nothing', () => {
    const before = run([cell('nginx', [40_000, 40_000, 40_000], [300, 300, 300]), cell('mantou-1w', [44_000, 44_000, 44_000], [280, 280, 280])]);
    // Every latency 1.6× and every rate 0.7× — the proxies' ratios unchanged.
    const slowHour = run([cell('nginx', [28_000, 28_000, 28_000], [480, 480, 480]), cell('mantou-1w', [30_800, 30_800, 30_800], [448, 448, 448])]);
    const { flags, notes } = compareRuns(withFloor(before, 50), withFloor(slowHour, 160));
    expect(flags).toEqual([]);
    expect(notes.some((n) => n.includes('50 µs in the earlier run, 160 µs in this one') && n.includes('3.2× apart'))).toBe(true);
    expect(notes.some((n) => n.startsWith('compared against nginx in the same run in: small-get'))).toBe(true);
  });

  it('flags a candidate that lost ground on nginx in the same run, though its absolute numbers held', () => {
    const before = run([cell('nginx', [40_000, 40_000, 40_000], [300, 300, 300]), cell('mantou-1w', [44_000, 44_000, 44_000], [280, 280, 280])]);
    // A quieter hour: nginx got faster, Mantou stayed where it was.
    const now = run([cell('nginx', [40_000, 40_000, 40_000], [200, 200, 200]), cell('mantou-1w', [44_000, 44_000, 44_000], [280, 280, 280])]);
    const { flags, notes } = compareRuns(withFloor(before, 100), withFloor(now, 110));
    expect(flags).toHaveLength(2); // p50 and p99 (the fixture's p99 is 3 × p50); req/s held its ratio
    expect(flags[0]).toMatch(/^small-get \/ mantou-1w \/ p50 µs at 1000\/s, against nginx in the same run: 0\.93× → 1\.40× \(\+50%/);
    expect(notes[0]).toContain('alike');
  });

  it('compares a metric absolutely where nginx has none: a rate nginx could not sustain', () => {
    const saturatedNginx = (): CellResult => {
      const c = cell('nginx', [900], []);
      c.latency = [{ rate: 1000, rounds: [], saturatedAtRps: 900 }];
      return c;
    };
    const before = run([saturatedNginx(), cell('mantou-1w', [40_000], [300, 300, 300])]);
    const now = run([saturatedNginx(), cell('mantou-1w', [40_000], [500, 500, 500])]);
    const { flags } = compareRuns(before, now);
    expect(flags.some((f) => f === 'small-get / mantou-1w / p50 µs at 1000/s: 300 → 500 (+67%, noise band 10%)')).toBe(true);
  });

  it('leaves out a candidate saturated at a rate', () => {
    const slow = cell('http-proxy', [3_500], []);
    slow.latency = [{ rate: 1000, rounds: [], saturatedAtRps: 3_500 }];
    const before = run([cell('direct', [100_000], [100]), cell('http-proxy', [3_500], [900])]);
    expect(compareRuns(before, run([cell('direct', [100_000], [100]), slow])).flags).toEqual([]);
  });
});
