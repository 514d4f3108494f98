// Results of made-up runs for the report and comparison tests: one small-GET scenario, latency at 1,000/s.

import type { CellResult, RunResults } from '../../../bench/report.ts';

export function cell(candidate: string, rps: number[], p50: number[]): CellResult {
  return {
    candidate,
    latency: [
      {
        rate: 1000,
        rounds: p50.map((p) => ({
          p50: p,
          p90: p * 2,
          p99: p * 3,
          p999: p * 4,
          max: p * 5,
          errors: 0,
          non2xx: 0,
          completed: 1000,
          cpuPer10k: 0.2,
          curve: [
            [50, p],
            [99, p * 3],
          ],
        })),
      },
    ],
    throughput: rps.map((r) => ({ rps: r, errors: 0, non2xx: 0, cpuPer10k: 0.2, loadCpuBusy: 0.5 })),
    peakRssBytes: 50 * 1048576,
  };
}

export function run(cells: CellResult[]): RunResults {
  return {
    date: '2026-01-01T00:00:00Z',
    commit: 'abc',
    placement: 'p',
    upstream: 'fixed-upstream.c',
    load: 'l',
    skipped: { haproxy: 'not installed' },
    scenarios: [{ name: 'small-get', question: 'q?', cells }],
  };
}
