// Results of a run: the JSON document, the markdown report (one table per scenario), a latency-percentile SVG
// per scenario. The comparison with an earlier run is bench/compare.ts.

import type { RoundGc } from './proxy-gc.ts';
import { isLoadBound, LOAD_BOUND, median } from './stats.ts';
import { targetsSection } from './targets.ts';
import { describeWakeFloor, type WakeFloor } from './wake-floor.ts';

export { median };

export interface LatencyRound {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  errors: number;
  non2xx: number;
  completed: number;
  cpuPer10k: number | null;
  /** Times this round was measured again because the load generator ran a major GC inside it. */
  remeasured?: number;
  /** Kept although the load generator ran a major GC inside it: tries used up (MAX_REMEASURES), or no room in the run's time bound. */
  generatorGcKept?: boolean;
  /** The larger share of the round the hypervisor took from the proxy's CPU or the load's (absent in older runs). */
  steal?: number | null;
  /**
   * Milliseconds the other candidates' processes (idle, but on the same CPU) ran during the round: their timers,
   * their garbage collection after their own rounds (absent in older runs).
   */
  bystanderMs?: number | null;
  /** The other candidate that ran most during the round, and how long ("fastify 12.3 ms"). */
  bystanderTop?: string;
  /** Measurements of this round thrown away because the others ran too long in them: who ran most in each. */
  bystanderDiscarded?: string[];
  /** The measured Mantou's own garbage collections during the round (absent for other candidates and older runs). */
  proxyGc?: RoundGc | null;
  /** [percentile, µs] points for the plot. */
  curve?: [number, number][];
}

export interface ThroughputRound {
  rps: number;
  errors: number;
  non2xx: number;
  cpuPer10k: number | null;
  /** Share of the round the load CPU (generator and upstream) was busy, 0–1 (absent in older runs). */
  loadCpuBusy?: number | null;
  /** As LatencyRound.steal. */
  steal?: number | null;
}

export interface CellResult {
  candidate: string;
  /** `saturatedAtRps`: the candidate's maximum was below `rate`, so no rounds were measured there. */
  latency: { rate: number; rounds: LatencyRound[]; saturatedAtRps?: number }[];
  throughput: ThroughputRound[];
  peakRssBytes: number | null;
}

/** The proxies (direct aside: it is the load side) whose throughput rounds kept the load CPU LOAD_BOUND busy. */
function loadBoundCandidates(cells: CellResult[]): string[] {
  return cells.filter((c) => c.candidate !== 'direct' && isLoadBound(c)).map((c) => c.candidate);
}

/** Steal at or above this share of a round is reported with the round. */
const STEAL_NOTED = 0.03;

/** The rounds with STEAL_NOTED or more steal, named and with their share. */
function stolenRounds(r: RunResults): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  return r.scenarios.flatMap((s) =>
    s.cells.flatMap((c) => [
      ...c.throughput.flatMap((t, i) => ((t.steal ?? 0) >= STEAL_NOTED ? [`${s.name} ${c.candidate} throughput round ${i + 1}: ${pct(t.steal ?? 0)}`] : [])),
      ...c.latency.flatMap((l) =>
        l.rounds.flatMap((x, i) => ((x.steal ?? 0) >= STEAL_NOTED ? [`${s.name} ${c.candidate} @ ${l.rate}/s round ${i + 1}: ${pct(x.steal ?? 0)}`] : [])),
      ),
    ]),
  );
}

/**
 * The other candidates running this long on the proxy's CPU during a latency round disturb it: bench/run.ts
 * measures the round again, and a round kept after all reports it.
 */
export const BYSTANDER_LIMIT_MS = 10;

/** Latency rounds, named, with what `describe` says of them (nothing: not listed). */
function latencyRoundsWhere(r: RunResults, describe: (x: LatencyRound) => string | null): string[] {
  return r.scenarios.flatMap((s) =>
    s.cells.flatMap((c) =>
      c.latency.flatMap((l) =>
        l.rounds.flatMap((x, i) => {
          const d = describe(x);
          return d === null ? [] : [`${s.name} ${c.candidate} @ ${l.rate}/s round ${i + 1}: ${d}`];
        }),
      ),
    ),
  );
}

/** The latency rounds measured again because the other candidates ran too long in them, and who ran. */
function remeasuredForBystanders(r: RunResults): string[] {
  return latencyRoundsWhere(r, (x) => (x.bystanderDiscarded?.length ? x.bystanderDiscarded.join(', ') : null));
}

/** The latency rounds kept although the other candidates ran BYSTANDER_LIMIT_MS or more in them. */
function disturbedRounds(r: RunResults): string[] {
  return latencyRoundsWhere(r, (x) =>
    (x.bystanderMs ?? 0) >= BYSTANDER_LIMIT_MS ? `${x.bystanderTop ?? ''} (all: ${(x.bystanderMs ?? 0).toFixed(1)} ms)` : null,
  );
}

/** A Mantou round whose own collections paused it this long in all, or made a full collection, is named. */
export const PROXY_GC_NOTED_MS = 5;

/** The latency rounds in which the measured Mantou collected garbage for PROXY_GC_NOTED_MS or did a full collection. */
function proxyGcRounds(r: RunResults): string[] {
  return latencyRoundsWhere(r, (x) => {
    const g = x.proxyGc;
    if (!g || (g.majorCollections === 0 && g.pauseMs < PROXY_GC_NOTED_MS)) return null;
    const full = g.majorCollections > 0 ? `, ${g.majorCollections} full (${g.majorPauseMs.toFixed(1)} ms)` : '';
    return `${g.collections} collections, ${g.pauseMs.toFixed(1)} ms${full}`;
  });
}

export interface RunResults {
  date: string;
  commit: string;
  placement: string;
  /** What served as the upstream (absent in runs before it was recorded). */
  upstream?: string;
  /** The idle round trip between the load CPU and the proxy's, before and after the run (absent before 2026-12-02). */
  wakeFloor?: { before: WakeFloor | null; after: WakeFloor | null };
  load: string;
  skipped: Record<string, string>;
  scenarios: { name: string; question: string; cells: CellResult[] }[];
}

/**
 * Whether a candidate whose throughput rounds reached `maxRps` (their median) is saturated at `rate`: open-loop
 * latency there would measure the round's length. A candidate that served nothing (0) is not: its latency rounds
 * are measured and show its errors.
 */
export const saturatedAt = (maxRps: number, rate: number): boolean => maxRps > 0 && maxRps < rate;

const spread = (xs: number[], digits = 0) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})` : '');
const us = (v: number) => (Number.isFinite(v) ? (v >= 10_000 ? `${(v / 1000).toFixed(1)} ms` : `${v.toFixed(0)} µs`) : '—');

/** The hour's floor, in words: what every proxy's "added" latency includes and `direct`'s does not. */
function wakeFloorLine(before: WakeFloor | null, after: WakeFloor | null): string {
  const at = (f: WakeFloor | null) => (f === null ? 'not measured' : describeWakeFloor(f));
  return `Floor: an idle round trip between the load CPU and the proxy's (bench/upstream/wake-probe.c, 2,000 at one a millisecond; a proxy hop makes two, direct none): ${at(before)} before the run, ${at(after)} after. Compare runs only where it is alike.`;
}

export function markdownReport(r: RunResults): string {
  const out: string[] = [
    `# Mantou benchmark — ${r.date}, commit ${r.commit}`,
    '',
    `Placement: ${r.placement}.`,
    ...(r.upstream ? [`Upstream: ${r.upstream}.`] : []),
    `Load: ${r.load}.`,
    ...(r.wakeFloor ? [wakeFloorLine(r.wakeFloor.before, r.wakeFloor.after)] : []),
    '',
  ];
  for (const [name, why] of Object.entries(r.skipped)) out.push(`- skipped **${name}**: ${why}`);
  out.push(
    '',
    'Latency: open-loop at a fixed rate, measured from when each request came due (no coordinated omission); medians of rounds, min–max in brackets. "added" is the median minus direct\'s median in the same run. CPU per 10k requests is the proxy process\'s user+system time. "load CPU busy" is how busy the load generator and upstream\'s CPU was in the throughput rounds: near 100% the load side, not the proxy, set the rate. A candidate whose maximum was below a rate is "saturated" there: open-loop, its requests would pile up for the whole round, and its latency would measure the round\'s length.',
    '',
  );
  const remeasured = r.scenarios.flatMap((s) =>
    s.cells.flatMap((c) =>
      c.latency.flatMap((l) => {
        const n = l.rounds.reduce((a, x) => a + (x.remeasured ?? 0), 0);
        return n > 0 ? [`${s.name} ${c.candidate} @ ${l.rate}/s: ${n}`] : [];
      }),
    ),
  );
  if (remeasured.length > 0) {
    out.push(`Latency rounds measured again because the load generator ran a major GC inside them: ${remeasured.join('; ')}.`, '');
  }
  const gcKept = latencyRoundsWhere(r, (x) => (x.generatorGcKept === true ? 'kept' : null));
  if (gcKept.length > 0) {
    out.push(
      `Latency rounds kept although the load generator ran a major GC inside them (after three more tries, or when the run's time bound left no room for another): ${gcKept.join('; ')}.`,
      '',
    );
  }
  const stolen = stolenRounds(r);
  if (stolen.length > 0) {
    out.push(
      `Rounds in which the hypervisor took ${(STEAL_NOTED * 100).toFixed(0)}% or more of the proxy's CPU or the load's (steal time, /proc/stat): their numbers measure the host, not the candidate: ${stolen.join('; ')}.`,
      '',
    );
  }
  const retaken = remeasuredForBystanders(r);
  if (retaken.length > 0) {
    out.push(
      `Latency rounds measured again because the other candidates (idle, on the same CPU) ran ${BYSTANDER_LIMIT_MS} ms or more inside them (/proc/<pid>/task/*/schedstat; who ran most each time): ${retaken.join('; ')}.`,
      '',
    );
  }
  const disturbed = disturbedRounds(r);
  if (disturbed.length > 0) {
    out.push(
      `Latency rounds kept (after two more tries, or when the run's time bound left no room for another) although the other candidates ran ${BYSTANDER_LIMIT_MS} ms or more inside them: ${disturbed.join('; ')}.`,
      '',
    );
  }
  const collected = proxyGcRounds(r);
  if (collected.length > 0) {
    out.push(
      `Latency rounds in which Mantou's own garbage collection paused it ${PROXY_GC_NOTED_MS} ms or more in all, or made a full collection (its admin /stats around the round; kept: it is the proxy's own cost): ${collected.join('; ')}.`,
      '',
    );
  }
  out.push(...targetsSection(r));
  for (const s of r.scenarios) {
    out.push(`## ${s.name}`, '', `*${s.question}*`, '');
    const direct = s.cells.find((c) => c.candidate === 'direct');
    out.push('| candidate | max req/s | CPU s/10k req | load CPU busy | peak RSS |', '|---|---|---|---|---|');
    for (const c of s.cells) {
      const rps = c.throughput.map((t) => t.rps);
      const cpu = c.throughput.map((t) => t.cpuPer10k).filter((x): x is number => x !== null);
      const load = c.throughput.map((t) => t.loadCpuBusy).filter((x): x is number => typeof x === 'number');
      const errors = c.throughput.reduce((a, t) => a + t.errors + t.non2xx, 0);
      out.push(
        `| ${c.candidate} | ${median(rps).toFixed(0)}${spread(rps)}${errors ? ` ⚠ ${errors} errors` : ''} | ${cpu.length ? median(cpu).toFixed(3) : '—'} | ${load.length ? `${(median(load) * 100).toFixed(0)}%` : '—'} | ${c.peakRssBytes === null ? '—' : `${(c.peakRssBytes / 1048576).toFixed(0)} MiB`} |`,
      );
    }
    out.push('');
    const loadBound = loadBoundCandidates(s.cells);
    if (loadBound.length > 0) {
      out.push(
        `Load-bound: ${loadBound.join(', ')} kept the load CPU ${(LOAD_BOUND * 100).toFixed(0)}% busy or more; their max req/s is the load side's, not theirs: compare them by CPU per request.`,
        '',
      );
    }
    for (const rate of s.cells[0]?.latency.map((l) => l.rate) ?? []) {
      out.push(
        `**at ${rate} req/s**`,
        '',
        '| candidate | p50 | p90 | p99 | p99.9 | max | added p50 | added p99 | CPU s/10k req |',
        '|---|---|---|---|---|---|---|---|---|',
      );
      const dl = direct?.latency.find((l) => l.rate === rate);
      const d50 = dl ? median(dl.rounds.map((x) => x.p50)) : Number.NaN;
      const d99 = dl ? median(dl.rounds.map((x) => x.p99)) : Number.NaN;
      for (const c of s.cells) {
        const l = c.latency.find((x) => x.rate === rate);
        if (!l) continue;
        if (l.saturatedAtRps !== undefined) {
          out.push(`| ${c.candidate} | saturated: at most ${l.saturatedAtRps} req/s, not measured | | | | | | | |`);
          continue;
        }
        const m = (k: keyof LatencyRound) => median(l.rounds.map((x) => x[k] as number));
        const errors = l.rounds.reduce((a, x) => a + x.errors + x.non2xx, 0);
        const cpu = l.rounds.map((x) => x.cpuPer10k).filter((x): x is number => x !== null);
        const p50s = l.rounds.map((x) => x.p50);
        const p99s = l.rounds.map((x) => x.p99);
        out.push(
          `| ${c.candidate}${errors ? ` ⚠ ${errors} errors` : ''} | ${us(m('p50'))}${spread(p50s)} | ${us(m('p90'))} | ${us(m('p99'))}${spread(p99s)} | ${us(m('p999'))} | ${us(m('max'))} | ${c.candidate === 'direct' ? '—' : us(m('p50') - d50)} | ${c.candidate === 'direct' ? '—' : us(m('p99') - d99)} | ${cpu.length ? median(cpu).toFixed(3) : '—'} |`,
        );
      }
      out.push('');
    }
    out.push(`![latency percentiles](${s.name}.svg)`, '');
  }
  return out.join('\n');
}

const COLORS = ['#444', '#d62728', '#ff7f0e', '#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

/** Latency by percentile (x: log scale of 1/(1-p), 50% … 99.99%), one line per candidate, at `rate`. */
export function percentileSvg(title: string, cells: CellResult[], rate: number): string {
  const W = 760;
  const H = 420;
  const L = 70;
  const B = 50;
  const T = 40;
  const R = 150;
  const lines = cells
    .map((c) => ({ name: c.candidate, curve: c.latency.find((l) => l.rate === rate)?.rounds.find((r) => r.curve !== undefined)?.curve ?? [] }))
    .filter((l) => l.curve.length > 0);
  // p is in percent: 90 → 1, 99 → 2, 99.9 → 3 on the axis.
  const xOf = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.99) / 100));
  const maxX = xOf(99.99);
  const minX = xOf(50);
  const allY = lines.flatMap((l) => l.curve.map(([, y]) => y));
  const maxY = Math.max(1, ...allY);
  const minY = Math.max(1, Math.min(...allY));
  const ly = (v: number) => Math.log10(Math.max(v, 1));
  const sx = (p: number) => L + ((xOf(p) - minX) / (maxX - minX)) * (W - L - R);
  const sy = (v: number) => H - B - ((ly(v) - ly(minY)) / Math.max(0.001, ly(maxY) - ly(minY))) * (H - B - T);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (const p of [50, 90, 99, 99.9, 99.99]) {
    out.push(`<line x1="${sx(p)}" y1="${T}" x2="${sx(p)}" y2="${H - B}" stroke="#eee"/><text x="${sx(p)}" y="${H - B + 18}" text-anchor="middle">p${p}</text>`);
  }
  for (let e = Math.floor(ly(minY)); e <= Math.ceil(ly(maxY)); e++) {
    const v = 10 ** e;
    if (v < minY / 1.01 || v > maxY * 10) continue;
    out.push(`<line x1="${L}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#eee"/><text x="${L - 6}" y="${sy(v) + 4}" text-anchor="end">${us(v)}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">percentile (log scale)</text>`);
  lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = l.curve.filter(([p]) => p >= 50).map(([p, y]) => `${sx(p).toFixed(1)},${sy(y).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    out.push(
      `<rect x="${W - R + 12}" y="${T + i * 20}" width="14" height="4" fill="${color}"/><text x="${W - R + 32}" y="${T + i * 20 + 6}">${escapeXml(l.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c] as string);
}
