import { describe, expect, it } from 'vitest';
import { historyReport, type NamedRun, roundPairs, targetTallies, verdictLines } from '../../../bench/target-history.ts';
import { cell, run } from './fixtures.ts';

// The targets over many runs: each run's verdicts, how often each target was met, and the round pairs of Mantou
// against nginx (the fixture's p99 is 3 × its p50; one rate, 1,000 req/s).

/** A run whose Mantou and nginx rounds have these p50s (direct at 50 µs; http-proxy and fastify absent). */
function namedRun(name: string, mantouP50: number[], nginxP50: number[]): NamedRun {
  return {
    name,
    results: run([
      cell(
        'direct',
        [60_000],
        mantouP50.map(() => 50),
      ),
      cell('mantou-native-1w', [45_000], mantouP50),
      cell('nginx', [40_000], nginxP50),
    ]),
  };
}

const runs = [
  namedRun('2026-12-01T10-00-00-aaa', [100, 300, 200], [150, 250, 220]), // medians 200 vs 220: met
  namedRun('2026-12-02T10-00-00-bbb', [300, 300, 300], [250, 250, 250]), // 300 vs 250: missed
];

describe('target history', () => {
  it('gives each run a line of verdicts, and counts only the runs that could tell', () => {
    const { targets, lines } = verdictLines(runs);
    expect(targets[0]).toBe('max req/s ≥ 0.9× nginx');
    // Throughput met; no Node proxy ("?"); the 1,000 req/s cells decided; the 5,000 req/s ones not measured.
    expect(lines).toEqual(['2026-12-01T10-00-00-aaa  M?MM??', '2026-12-02T10-00-00-bbb  M?--??']);
    const tallies = targetTallies(runs);
    expect(tallies.find((t) => t.target === 'added p50 at 1000 req/s ≤ nginx')).toEqual({ target: 'added p50 at 1000 req/s ≤ nginx', met: 1, runs: 2 });
    expect(tallies.find((t) => t.target === 'max req/s ≥ 3.5× the faster Node proxy')).toEqual({
      target: 'max req/s ≥ 3.5× the faster Node proxy',
      met: 0,
      runs: 0,
    });
  });

  it('pairs round i of Mantou with round i of nginx, over the runs', () => {
    // Round by round: 100≤150, 300>250, 200≤220; then 300>250 three times: 2 of 6 (a tie counts for Mantou).
    expect(roundPairs(runs)).toEqual([
      { rate: 1000, percentile: 'p50', atOrBelow: 2, pairs: 6 },
      { rate: 1000, percentile: 'p99', atOrBelow: 2, pairs: 6 },
    ]);
    const tie = [namedRun('2026-12-03T10-00-00-ccc', [200], [200])];
    expect(roundPairs(tie)[0]).toEqual({ rate: 1000, percentile: 'p50', atOrBelow: 1, pairs: 1 });
  });

  it('writes it all as text, and says when no run has the cells', () => {
    const text = historyReport(runs);
    expect(text).toContain('Targets over 2 runs (small-get, mantou-native-1w)');
    expect(text).toContain('added p99 at 1000 req/s ≤ nginx: met in 1 of 2 runs (50%)');
    expect(text).toContain('p50 at 1000 req/s: Mantou at or below nginx in 2 of 6 (33%)');
    expect(historyReport([])).toBe('no run with small-get measured for mantou-native-1w');
  });
});
