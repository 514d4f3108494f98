import { describe, expect, it } from 'vitest';
import { type CellResult, markdownReport, median, percentileSvg, saturatedAt } from '../../../bench/report.ts';
import { cell, run } from './fixtures.ts';

describe('bench report', () => {
  it('takes the median of rounds', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2);
  });

  it('writes added latency against direct and reports skipped peers', () => {
    const md = markdownReport(run([cell('direct', [100_000], [100, 110, 90]), cell('mantou-1w', [40_000], [300, 310, 290])]));
    expect(md).toContain('skipped **haproxy**: not installed');
    expect(md).toMatch(/\| mantou-1w \| 300 µs \(290–310\) \|.*\| 200 µs \|/);
  });

  it("reports a cell above the candidate's maximum as saturated, and leaves it out of the plot and the comparison", () => {
    const slow = cell('http-proxy', [3_500], []);
    slow.latency = [{ rate: 1000, rounds: [], saturatedAtRps: 3_500 }];
    const cells = [cell('direct', [100_000], [100]), slow];
    expect(markdownReport(run(cells))).toContain('| http-proxy | saturated: at most 3500 req/s, not measured |');
    expect(percentileSvg('t', cells, 1000)).not.toContain('http-proxy');
  });

  it('counts a candidate as saturated only below a rate it served some of', () => {
    expect(saturatedAt(3_500, 5_000)).toBe(true);
    expect(saturatedAt(5_000, 5_000)).toBe(false);
    expect(saturatedAt(52_000, 5_000)).toBe(false);
    // Served nothing (it failed): measured, so its errors show.
    expect(saturatedAt(0, 1_000)).toBe(false);
  });

  it('says what served as the upstream and how busy the load CPU was', () => {
    const md = markdownReport(run([cell('direct', [100_000], [100]), cell('nginx', [40_000], [200])]));
    expect(md).toContain('Upstream: fixed-upstream.c.');
    expect(md).toMatch(/\| nginx \| 40000 \| 0\.200 \| 50% \| 50 MiB \|/);
  });

  it('names the proxies whose throughput rounds kept the load CPU busy (their req/s is the load side), direct aside', () => {
    const bound = (c: CellResult): CellResult => ({ ...c, throughput: c.throughput.map((t) => ({ ...t, loadCpuBusy: 0.99 })) });
    const md = markdownReport(run([bound(cell('direct', [100_000], [100])), bound(cell('mantou', [50_000], [150])), cell('nginx', [40_000], [200])]));
    expect(md).toContain('Load-bound: mantou kept the load CPU 97% busy or more');
    expect(markdownReport(run([cell('direct', [100_000], [100]), cell('nginx', [40_000], [200])]))).not.toContain('Load-bound');
  });

  it('prints the floor measured before and after the run', () => {
    const floor = (p50Us: number) => ({ p50Us, p99Us: 300, maxUs: 900, samples: 2000 });
    const md = markdownReport({ ...run([cell('direct', [100_000], [100])]), wakeFloor: { before: floor(150), after: null } });
    expect(md).toContain('p50 150 µs, p99 300 µs, max 900 µs before the run, not measured after');
  });

  it('says which latency rounds were measured again for a GC of the load generator', () => {
    const quiet = run([cell('direct', [1], [100]), cell('nginx', [1], [200])]);
    expect(markdownReport(quiet)).not.toContain('measured again');
    const c = cell('mantou-1w', [1], [300, 310]);
    const first = c.latency[0]?.rounds[0];
    if (first) first.remeasured = 1;
    expect(markdownReport(run([cell('direct', [1], [100]), c]))).toContain('major GC inside them: small-get mantou-1w @ 1000/s: 1.');
  });

  it('names the rounds kept with a GC of the load generator inside, when the time bound left no room', () => {
    const c = cell('mantou-1w', [1], [300, 310]);
    expect(markdownReport(run([cell('direct', [1], [100]), c]))).not.toContain('time bound');
    const second = c.latency[0]?.rounds[1];
    if (second) second.generatorGcKept = true;
    expect(markdownReport(run([cell('direct', [1], [100]), c]))).toContain(
      "major GC inside them (after three more tries, or when the run's time bound left no room for another): small-get mantou-1w @ 1000/s round 2: kept.",
    );
  });

  it('names the rounds in which the hypervisor took a share of a CPU worth noting (steal)', () => {
    const quiet = cell('mantou-1w', [1, 2], [300]);
    const t = quiet.throughput[1];
    if (t) t.steal = 0.01;
    expect(markdownReport(run([cell('direct', [1], [100]), quiet]))).not.toContain('hypervisor');
    const stolen = cell('mantou-1w', [1, 2], [300, 310]);
    const second = stolen.throughput[1];
    if (second) second.steal = 0.12;
    const latency = stolen.latency[0]?.rounds[0];
    if (latency) latency.steal = 0.05;
    const md = markdownReport(run([cell('direct', [1], [100]), stolen]));
    expect(md).toContain('small-get mantou-1w throughput round 2: 12%; small-get mantou-1w @ 1000/s round 1: 5%.');
  });

  it('names the rounds measured again because other candidates ran in them, and any kept although they did', () => {
    const c = cell('mantou-1w', [1], [300, 310, 320]);
    const rounds = c.latency[0]?.rounds ?? [];
    const [first, second, third] = rounds;
    if (first) first.bystanderMs = 4;
    if (second) Object.assign(second, { bystanderMs: 1.2, bystanderDiscarded: ['fastify 38.0 ms'] });
    if (third) Object.assign(third, { bystanderMs: 12.5, bystanderTop: 'http-proxy 11.9 ms', bystanderDiscarded: ['http-proxy 20.1 ms', 'nginx 10.4 ms'] });
    const md = markdownReport(run([cell('direct', [1], [100]), c]));
    expect(md).toContain(
      'ran 10 ms or more inside them (/proc/<pid>/task/*/schedstat; who ran most each time): small-get mantou-1w @ 1000/s round 2: fastify 38.0 ms; small-get mantou-1w @ 1000/s round 3: http-proxy 20.1 ms, nginx 10.4 ms.',
    );
    expect(md).toContain('ran 10 ms or more inside them: small-get mantou-1w @ 1000/s round 3: http-proxy 11.9 ms (all: 12.5 ms).');
    expect(md).not.toContain('round 1: ');
    const quiet = cell('mantou-1w', [1], [300]);
    const only = quiet.latency[0]?.rounds[0];
    if (only) only.bystanderMs = 9.9;
    expect(markdownReport(run([cell('direct', [1], [100]), quiet]))).not.toContain('schedstat');
  });

  it("names the rounds in which Mantou's own collections paused it for 5 ms or more, or made a full one", () => {
    const c = cell('mantou-1w', [1], [300, 310, 320]);
    const [few, full, long] = c.latency[0]?.rounds ?? [];
    if (few) few.proxyGc = { collections: 3, pauseMs: 2.5, majorCollections: 0, majorPauseMs: 0 };
    if (full) full.proxyGc = { collections: 2, pauseMs: 4.1, majorCollections: 1, majorPauseMs: 3.4 };
    if (long) long.proxyGc = { collections: 9, pauseMs: 12.25, majorCollections: 0, majorPauseMs: 0 };
    const md = markdownReport(run([cell('direct', [1], [100]), c]));
    expect(md).toContain(
      'small-get mantou-1w @ 1000/s round 2: 2 collections, 4.1 ms, 1 full (3.4 ms); small-get mantou-1w @ 1000/s round 3: 9 collections, 12.3 ms.',
    );
    expect(md).not.toContain('round 1: 3 collections');
    expect(markdownReport(run([cell('direct', [1], [100]), cell('mantou-1w', [1], [300])]))).not.toContain('garbage collection');
  });

  it('draws one line per candidate in the percentile plot', () => {
    const svg = percentileSvg('t', [cell('direct', [1], [100]), cell('nginx', [1], [200])], 1000);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
  });
});
