// The bench issue's targets, read off a run the same way every time: on small keep-alive GETs, one worker of the
// default engine on one core — max req/s at least 0.9× nginx's and at least 3.5× the faster of http-proxy and
// fastify; added p50 and added p99 at 1,000 and 5,000 req/s no more than nginx's. Every verdict is a ratio or a
// difference within the one run, never against an absolute number (the hour moves those: bench/wake-floor.ts).

import type { CellResult, RunResults } from './report.ts';
import { isLoadBound, median } from './stats.ts';

export const TARGET_SCENARIO = 'small-get';
export const TARGET_CANDIDATE = 'mantou-native-1w';
const NODE_PROXIES = ['http-proxy', 'fastify'];
const LATENCY_RATES = [1000, 5000];

export interface TargetVerdict {
  target: string;
  /** What Mantou measured, and what it is held to. */
  measured: string;
  /** true: met; false: missed; null: this run cannot tell (a candidate missing, or both sides load-bound). */
  met: boolean | null;
}

const maxRps = (c: CellResult) => median(c.throughput.map((t) => t.rps));
const cpuPerRequestUs = (c: CellResult) => {
  const xs = c.throughput.map((t) => t.cpuPer10k).filter((x): x is number => x !== null);
  return xs.length > 0 ? (median(xs) / 10_000) * 1e6 : Number.NaN;
};

/** Max req/s of Mantou against `other`'s at `factor`; where Mantou was load-bound, its CPU per request says more. */
function throughputVerdict(target: string, mantou: CellResult, other: CellResult, factor: number): TargetVerdict {
  const ratio = maxRps(mantou) / Math.max(1, maxRps(other));
  const byCpu = cpuPerRequestUs(other) / cpuPerRequestUs(mantou);
  const cpuNote = Number.isFinite(byCpu)
    ? `; by CPU per request ${byCpu.toFixed(2)}× (${cpuPerRequestUs(mantou).toFixed(1)} against ${cpuPerRequestUs(other).toFixed(1)} µs)`
    : '';
  const measured = `${maxRps(mantou).toFixed(0)} against ${other.candidate}'s ${maxRps(other).toFixed(0)} req/s: ${ratio.toFixed(2)}×${cpuNote}`;
  if (ratio >= factor) return { target, measured, met: true };
  // Held back by the load side, Mantou's own maximum is not known: its CPU per request is the fairer ratio.
  if (isLoadBound(mantou)) return { target, measured: `${measured} — Mantou load-bound`, met: Number.isFinite(byCpu) ? byCpu >= factor : null };
  return { target, measured, met: false };
}

function addedLatency(cell: CellResult, direct: CellResult, rate: number, key: 'p50' | 'p99'): number {
  const l = cell.latency.find((x) => x.rate === rate);
  const d = direct.latency.find((x) => x.rate === rate);
  if (!l || !d || l.rounds.length === 0 || d.rounds.length === 0) return Number.NaN;
  return median(l.rounds.map((x) => x[key])) - median(d.rounds.map((x) => x[key]));
}

/** The targets' verdicts for run `r` (empty when it has no small-GET scenario or no Mantou one-worker cell). */
export function targetVerdicts(r: RunResults): TargetVerdict[] {
  const s = r.scenarios.find((x) => x.name === TARGET_SCENARIO);
  const cell = (name: string) => s?.cells.find((c) => c.candidate === name);
  const mantou = cell(TARGET_CANDIDATE);
  if (!s || !mantou) return [];
  const out: TargetVerdict[] = [];
  const nginx = cell('nginx');
  out.push(
    nginx ? throughputVerdict('max req/s ≥ 0.9× nginx', mantou, nginx, 0.9) : { target: 'max req/s ≥ 0.9× nginx', measured: 'nginx not measured', met: null },
  );
  const nodes = NODE_PROXIES.map(cell).filter((c): c is CellResult => c !== undefined);
  const fastest = nodes.sort((a, b) => maxRps(b) - maxRps(a))[0];
  out.push(
    fastest
      ? throughputVerdict('max req/s ≥ 3.5× the faster Node proxy', mantou, fastest, 3.5)
      : { target: 'max req/s ≥ 3.5× the faster Node proxy', measured: 'neither Node proxy measured', met: null },
  );
  const direct = cell('direct');
  for (const rate of LATENCY_RATES) {
    for (const key of ['p50', 'p99'] as const) {
      const target = `added ${key} at ${rate} req/s ≤ nginx`;
      const ours = direct ? addedLatency(mantou, direct, rate, key) : Number.NaN;
      const theirs = direct && nginx ? addedLatency(nginx, direct, rate, key) : Number.NaN;
      if (!Number.isFinite(ours) || !Number.isFinite(theirs)) {
        out.push({ target, measured: 'not measured (direct, nginx or the rate missing)', met: null });
        continue;
      }
      const margin = theirs - ours;
      out.push({
        target,
        measured: `${ours.toFixed(0)} against ${theirs.toFixed(0)} µs (${margin >= 0 ? `${margin.toFixed(0)} µs to spare` : `${(-margin).toFixed(0)} µs over`})`,
        met: ours <= theirs,
      });
    }
  }
  return out;
}

/** The report's "Targets" section (nothing when the run cannot be read for them). */
export function targetsSection(r: RunResults): string[] {
  const verdicts = targetVerdicts(r);
  if (verdicts.length === 0) return [];
  const word = (m: boolean | null) => (m === true ? 'met' : m === false ? '**missed**' : 'cannot tell');
  const met = verdicts.filter((v) => v.met === true).length;
  return [
    `## Targets (${TARGET_SCENARIO}, ${TARGET_CANDIDATE}): ${met} of ${verdicts.length} met`,
    '',
    '| target | measured | verdict |',
    '|---|---|---|',
    ...verdicts.map((v) => `| ${v.target} | ${v.measured} | ${word(v.met)} |`),
    '',
    'Read with the floor above: in an hour whose floor is high, both proxies pay it twice per request and the latency cells are decided within its noise.',
    '',
  ];
}
