import { describe, expect, it } from 'vitest';
import type { CellResult } from '../../../bench/report.ts';
import { markdownReport } from '../../../bench/report.ts';
import { targetVerdicts } from '../../../bench/targets.ts';
import { cell, run } from './fixtures.ts';

/** A cell measured at 1,000 and 5,000 req/s (the fixture's p99 is 3 × p50), its throughput rounds' load share set. */
function cellAt(candidate: string, rps: number, p50At1k: number, p50At5k: number, loadCpuBusy = 0.5, cpuPer10k = 0.2): CellResult {
  const c = cell(candidate, [rps], [p50At1k]);
  const five = cell(candidate, [rps], [p50At5k]).latency[0];
  if (five) c.latency.push({ ...five, rate: 5000 });
  c.throughput = c.throughput.map((t) => ({ ...t, loadCpuBusy, cpuPer10k }));
  return c;
}

describe('bench targets', () => {
  it('reads every target off one run: throughput ratios and added latency against nginx', () => {
    const r = run([
      cellAt('direct', 60_000, 50, 60),
      cellAt('mantou-native-1w', 45_000, 150, 200),
      cellAt('nginx', 40_000, 160, 190),
      cellAt('http-proxy', 9_000, 500, 600),
      cellAt('fastify', 12_000, 500, 600),
    ]);
    const v = targetVerdicts(r);
    expect(v.map((x) => [x.target, x.met])).toEqual([
      ['max req/s ≥ 0.9× nginx', true],
      ['max req/s ≥ 3.5× the faster Node proxy', true], // 45k against fastify's 12k: 3.75×
      ['added p50 at 1000 req/s ≤ nginx', true],
      ['added p99 at 1000 req/s ≤ nginx', true],
      ['added p50 at 5000 req/s ≤ nginx', false], // 140 against 130 µs
      ['added p99 at 5000 req/s ≤ nginx', false],
    ]);
    expect(v[1]?.measured).toContain("against fastify's 12000 req/s: 3.75×");
    expect(v[4]?.measured).toBe('140 against 130 µs (10 µs over)');
    expect(v[2]?.measured).toBe('100 against 110 µs (10 µs to spare)');
    const md = markdownReport(r);
    expect(md).toContain('## Targets (small-get, mantou-native-1w): 4 of 6 met');
    expect(md).toContain('| added p50 at 5000 req/s ≤ nginx | 140 against 130 µs (10 µs over) | **missed** |');
  });

  it('judges a load-bound Mantou by CPU per request, and cannot tell what was not measured', () => {
    // Mantou held at 30k by the load side, nginx at 40k on its own: 0.75× by req/s, 2× by CPU per request.
    const r = run([cellAt('direct', 30_000, 50, 60, 1), cellAt('mantou-native-1w', 30_000, 150, 200, 0.99, 0.2), cellAt('nginx', 40_000, 160, 190, 0.8, 0.4)]);
    const [nginx, node] = targetVerdicts(r);
    expect(nginx?.met).toBe(true);
    expect(nginx?.measured).toContain('by CPU per request 2.00× (20.0 against 40.0 µs) — Mantou load-bound');
    expect(node).toEqual({ target: 'max req/s ≥ 3.5× the faster Node proxy', measured: 'neither Node proxy measured', met: null });
    // Not load-bound, the same req/s ratio is a miss.
    const free = run([cellAt('mantou-native-1w', 30_000, 150, 200, 0.5), cellAt('nginx', 40_000, 160, 190)]);
    expect(targetVerdicts(free)[0]?.met).toBe(false);
    expect(targetVerdicts(free)[2]).toMatchObject({ met: null });
  });

  it('has nothing to say of a run without the small-GET Mantou cell', () => {
    expect(targetVerdicts(run([cellAt('direct', 1, 1, 1), cellAt('nginx', 1, 1, 1)]))).toEqual([]);
    expect(markdownReport(run([cellAt('direct', 1, 1, 1)]))).not.toContain('## Targets');
  });
});
