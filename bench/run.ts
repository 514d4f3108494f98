// `npm run bench [-- --quick] [-- --rounds N] [-- --latency-first] [-- --compare <results.json>] [-- --scenarios a,b] [-- --candidates a,b]`
// Starts the upstream and every available candidate once, then for each scenario measures each candidate:
// open-loop latency at fixed rates and maximum throughput (autocannon), several rounds each. Writes
// bench/results/<date>-<commit>/{results.json, report.md, <scenario>.svg}.

import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import {
  benchTempDir,
  type Candidate,
  candidateSpecs,
  hasTaskset,
  LOAD_CPU,
  onPath,
  PROXY_CPU,
  pinnedSpawn,
  pinSelfToLoadCpu,
  roundsArg,
  stopOnSignal,
} from './candidates.ts';
import { compareRuns } from './compare.ts';
import { openLoop } from './open-loop.ts';
import { busyShare, type CpuTicks, cpuSeconds, cpuTicks, rssBytes, runNanos, stealShare } from './proc-stats.ts';
import { gcBetween, readProxyGc } from './proxy-gc.ts';
import {
  BYSTANDER_LIMIT_MS,
  type CellResult,
  type LatencyRound,
  markdownReport,
  median,
  percentileSvg,
  type RunResults,
  saturatedAt,
  type ThroughputRound,
} from './report.ts';
import { RunBudget, runLimitMs } from './run-budget.ts';
import {
  DEFAULT_RUN_LIMIT_MS,
  LATENCY_MS,
  latencyRoundsOf,
  modelledScenarioMs,
  QUICK_RUN_LIMIT_MS,
  type RunShape,
  settleMs,
  settlesEachCandidate,
  THROUGHPUT_S,
  throughputRoundsOf,
  WARMUP_MS,
} from './run-plan.ts';
import { requestBytes, type Scenario, scenarios } from './scenarios.ts';
import { unknownNamesError } from './selection.ts';
import { startBenchUpstream } from './upstream.ts';
import { measureWakeFloor, wakeFloorLogLine } from './wake-floor.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    compare: { type: 'string' },
    scenarios: { type: 'string' },
    candidates: { type: 'string' },
    render: { type: 'string' },
    rounds: { type: 'string' },
    'latency-first': { type: 'boolean', default: false },
  },
});

const QUICK = values.quick === true;
/** `--rounds N` measures more rounds per cell (a tighter median; the run takes longer). */
const ROUNDS = roundsArg(QUICK ? 2 : 3);
/**
 * `--latency-first`: each scenario's latency rounds straight after the warm-up and its throughput rounds last, as
 * before 2026-11-30 07:41, and nothing left out as saturated. To compare the two orders: a JIT-compiled proxy's
 * latency rounds right after full-load throughput rounds may measure the aftermath of that load (docs/performance-log.md).
 */
const LATENCY_FIRST = values['latency-first'] === true;
const SHAPE: RunShape = { quick: QUICK, rounds: ROUNDS, latencyFirst: LATENCY_FIRST };
const THROUGHPUT_CONNECTIONS = 50;
const SETTLE_MS = settleMs(SHAPE);
const PERCENTILES = [50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97.5, 98.75, 99, 99.375, 99.5, 99.6875, 99.8, 99.9, 99.95, 99.97, 99.99];

function cpuOf(c: Candidate): number {
  return c.pids.reduce((a, pid) => a + cpuSeconds(pid), 0);
}

function rssOf(c: Candidate): number {
  return c.pids.reduce((a, pid) => a + rssBytes(pid), 0);
}

/**
 * A latency round in which the other candidates ran BYSTANDER_LIMIT_MS on the proxy's CPU is measured again (up to
 * MAX_BYSTANDER_REMEASURES times): idle between their own rounds, they still collect garbage after them (a Node
 * peer's memory reducer, tens of milliseconds), and whoever is measured then pays for it. Their ordinary timers
 * come to 1–6 ms a round.
 */
const MAX_BYSTANDER_REMEASURES = 2;
/**
 * The run's time bound (bench/run-budget.ts): re-measures spend only its slack. Its plan is set once the
 * candidates are up.
 */
const budget = new RunBudget();

/** How long each candidate other than the one measured has run so far, in ns (they share the proxy's CPU). */
function bystanderNanos(others: readonly Candidate[]): number[] {
  return others.map((o) => o.pids.reduce((b, pid) => b + runNanos(pid), 0));
}

/** The other candidates' run time since `before`: the total in ms, and the one that ran most ("name 12.3 ms"). */
function bystandersSince(others: readonly Candidate[], before: readonly number[]): { ms: number; top: string } {
  const ms = bystanderNanos(others).map((n, i) => (n - (before[i] ?? 0)) / 1e6);
  let top = 0;
  for (let i = 1; i < ms.length; i++) if ((ms[i] as number) > (ms[top] as number)) top = i;
  const total = ms.reduce((a, x) => a + x, 0);
  return { ms: total, top: others.length > 0 ? `${others[top]?.name} ${(ms[top] as number).toFixed(1)} ms` : '' };
}

/** A latency round, measured again while the other candidates disturbed it (BYSTANDER_LIMIT_MS). */
async function latencyRound(c: Candidate, s: Scenario, rate: number, others: readonly Candidate[]): Promise<LatencyRound> {
  const discarded: string[] = [];
  const from = performance.now();
  let measured = 0;
  for (;;) {
    const round = await measureLatencyRound(c, s, rate, others);
    measured += 1 + (round.remeasured ?? 0);
    const keep = (round.bystanderMs ?? 0) < BYSTANDER_LIMIT_MS || discarded.length === MAX_BYSTANDER_REMEASURES || !budget.allows(LATENCY_MS);
    if (keep) {
      if (discarded.length > 0) round.bystanderDiscarded = discarded;
      // One planned round; the rest of the time, in proportion, was measuring again.
      const ms = performance.now() - from;
      budget.planned(LATENCY_MS);
      budget.extra((ms * (measured - 1)) / measured);
      return round;
    }
    discarded.push(round.bystanderTop ?? '');
  }
}

async function measureLatencyRound(c: Candidate, s: Scenario, rate: number, others: readonly Candidate[]): Promise<LatencyRound> {
  const gc0 = c.adminPort === undefined ? null : await readProxyGc(c.adminPort);
  const bystanders0 = bystanderNanos(others);
  const cpu0 = cpuOf(c);
  const load0 = cpuTicks(LOAD_CPU);
  const proxy0 = cpuTicks(PROXY_CPU);
  const r = await openLoop({
    port: c.port,
    rate,
    durationMs: LATENCY_MS,
    connections: s.connections,
    request: requestBytes(s),
    newConnection: s.newConnection,
    mayRepeat: () => budget.allows(LATENCY_MS),
  });
  const bystanders = bystandersSince(others, bystanders0);
  const proxyGc = c.adminPort === undefined ? undefined : gcBetween(gc0, await readProxyGc(c.adminPort));
  const h = r.histogram;
  const round: LatencyRound = {
    p50: h.getValueAtPercentile(50),
    p90: h.getValueAtPercentile(90),
    p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9),
    max: h.maxValue,
    errors: r.errors,
    non2xx: r.non2xx,
    completed: r.completed,
    cpuPer10k: c.pids.length ? ((cpuOf(c) - cpu0) / Math.max(1, r.completed)) * 10_000 : null,
    remeasured: r.remeasured,
    ...(r.majorGcInside && { generatorGcKept: true }),
    steal: largerSteal(load0, cpuTicks(LOAD_CPU), proxy0, cpuTicks(PROXY_CPU)),
    bystanderMs: others.length > 0 ? bystanders.ms : null,
    bystanderTop: bystanders.top,
    ...(proxyGc !== undefined && { proxyGc }),
    curve: PERCENTILES.map((p) => [p, h.getValueAtPercentile(p)]),
  };
  h.destroy();
  return round;
}

/** wrk (C, epoll) costs a fraction of autocannon's CPU per request: on a 2-core machine autocannon itself
 * saturates near 30k req/s, below what nginx or Mantou serve on one core. autocannon is the fallback. */
const hasWrk = onPath('wrk');

function wrkLua(s: Scenario, dir: string): string {
  const file = join(dir, `${s.name}.lua`);
  // wrk sends its own Host: adding one would make every request carry two (and be rejected).
  const headers = Object.entries(s.headers)
    .map(([k, v]) => `wrk.headers["${k}"] = "${v}"`)
    .join('\n');
  if (s.chunkBytes !== undefined) {
    // wrk.format() adds a Content-Length to any wrk.body: wrk sends the open-loop generator's own bytes instead.
    const raw = requestBytes(s).toString('latin1').replace(/[\\"]/g, '\\$&').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
    writeFileSync(file, `local raw = "${raw}"\nrequest = function() return raw end\n`);
    return file;
  }
  const body = s.body === undefined ? '' : `wrk.body = string.rep("p", ${s.body.length})`;
  writeFileSync(file, `wrk.method = "${s.method}"\n${headers}\n${body}\n`);
  return file;
}

function wrkRound(c: Candidate, s: Scenario, lua: string): Promise<ThroughputRound> {
  const cpu0 = cpuOf(c);
  return new Promise((resolve) => {
    const child = pinnedSpawn(LOAD_CPU, 'wrk', ['-t1', `-c${THROUGHPUT_CONNECTIONS}`, `-d${THROUGHPUT_S}s`, '-s', lua, `http://127.0.0.1:${c.port}${s.path}`]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => process.stderr.write(`wrk: ${d}`));
    // 'close', not 'exit': stdout may still hold wrk's summary when the process has exited.
    child.on('close', () => {
      const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
      const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const errors = errs ? errs.slice(1).reduce((a, x) => a + Number(x), 0) : 0;
      resolve({ rps, errors, non2xx, cpuPer10k: c.pids.length ? ((cpuOf(c) - cpu0) / Math.max(1, total)) * 10_000 : null });
    });
  });
}

/** One throughput round, with how busy the load CPU was: near 100% the load side, not the proxy, set the rate. */
async function throughputRound(c: Candidate, s: Scenario, dir: string): Promise<ThroughputRound> {
  const load0 = cpuTicks(LOAD_CPU);
  const proxy0 = cpuTicks(PROXY_CPU);
  const r = hasWrk ? await wrkRound(c, s, wrkLua(s, dir)) : await autocannonRound(c, s);
  const load1 = cpuTicks(LOAD_CPU);
  return { ...r, loadCpuBusy: busyShare(load0, load1), steal: largerSteal(load0, load1, proxy0, cpuTicks(PROXY_CPU)) };
}

/** The larger steal share of the two CPUs over a round (null without /proc/stat). */
function largerSteal(load0: CpuTicks | null, load1: CpuTicks | null, proxy0: CpuTicks | null, proxy1: CpuTicks | null): number | null {
  const a = stealShare(load0, load1);
  const b = stealShare(proxy0, proxy1);
  return a === null ? b : b === null ? a : Math.max(a, b);
}

async function autocannonRound(c: Candidate, s: Scenario): Promise<ThroughputRound> {
  // autocannon gives every body a Content-Length.
  if (s.chunkBytes !== undefined) throw new Error(`${s.name} needs wrk for its throughput rounds (bash bench/setup-peers.sh)`);
  const cpu0 = cpuOf(c);
  const r = await autocannon({
    url: `http://127.0.0.1:${c.port}${s.path}`,
    method: s.method as 'GET',
    headers: s.headers,
    body: s.body,
    connections: THROUGHPUT_CONNECTIONS,
    duration: THROUGHPUT_S,
  });
  return {
    rps: r.requests.average,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    cpuPer10k: c.pids.length ? ((cpuOf(c) - cpu0) / Math.max(1, r.requests.total)) * 10_000 : null,
  };
}

async function warmUp(c: Candidate, s: Scenario): Promise<void> {
  // At the top rate: JIT-compiled runtimes (Mantou, the Node peers) need seconds of traffic before the optimising
  // compiler settles; measured without it, their first rounds show compile stalls, not steady state.
  const r = await openLoop({
    port: c.port,
    rate: s.rates.at(-1) as number,
    durationMs: WARMUP_MS,
    connections: s.connections,
    request: requestBytes(s),
    newConnection: s.newConnection,
    mayRepeat: () => false,
  });
  r.histogram.destroy();
  budget.planned(WARMUP_MS);
}

/** Traffic after the throughput rounds that no latency round measures (SETTLE_MS says why). */
async function settle(c: Candidate, s: Scenario, durationMs = SETTLE_MS): Promise<void> {
  const r = await openLoop({
    port: c.port,
    rate: s.rates[0] as number,
    durationMs,
    connections: s.connections,
    request: requestBytes(s),
    newConnection: s.newConnection,
    mayRepeat: () => false,
  });
  r.histogram.destroy();
  budget.planned(durationMs);
}

/**
 * One scenario for every candidate. Rounds go round-robin over the candidates (the first round of each, then the
 * second…): this VM's noise comes in bursts of seconds (direct itself shows multi-millisecond p99s in some rounds
 * and not others), and one candidate's rounds measured back to back let a burst take that candidate's whole cell.
 * Throughput comes first: a candidate's maximum says which of the scenario's rates it cannot sustain. Open-loop
 * above it, requests pile up for the whole round and the latency measures the round's length, not the proxy: such
 * a cell is reported as saturated instead of measured (and its time goes to the rounds that mean something).
 */
async function measureScenario(running: Candidate[], s: Scenario, dir: string): Promise<CellResult[]> {
  const peaks = running.map(() => 0);
  const sample = (k: number) => {
    peaks[k] = Math.max(peaks[k] as number, rssOf(running[k] as Candidate));
  };
  for (const c of running) await warmUp(c, s);
  const throughput = running.map((): ThroughputRound[] => []);
  const measureThroughput = async () => {
    for (let i = 0; i < throughputRoundsOf(s, SHAPE); i++) {
      for (const [k, c] of running.entries()) {
        throughput[k]?.push(await throughputRound(c, s, dir));
        budget.planned(THROUGHPUT_S * 1000);
        sample(k);
      }
    }
  };
  if (!LATENCY_FIRST) await measureThroughput();
  const maxRps = LATENCY_FIRST ? running.map(() => Number.POSITIVE_INFINITY) : throughput.map((ts) => median(ts.map((t) => t.rps)));
  const latencyRounds = latencyRoundsOf(s, SHAPE);
  const latency = running.map((): CellResult['latency'] => []);
  if (!LATENCY_FIRST && running[0] !== undefined) await settle(running[0], s);
  // Where the targets are read (the scenario given more latency rounds), settling the generator is not enough:
  // every candidate gets one unmeasured round at the first rate, in the same order, first (see SETTLE_MS).
  if (settlesEachCandidate(s, SHAPE)) {
    for (const [k, c] of running.entries()) {
      if (saturatedAt(maxRps[k] as number, s.rates[0] as number)) budget.dropped(LATENCY_MS);
      else await settle(c, s, LATENCY_MS);
    }
  }
  for (const rate of s.rates) {
    const saturated = maxRps.map((m) => saturatedAt(m, rate));
    for (const sat of saturated) if (sat) budget.dropped(latencyRounds * LATENCY_MS);
    const rounds = running.map((): LatencyRound[] => []);
    for (let i = 0; i < latencyRounds; i++) {
      for (const [k, c] of running.entries()) {
        if (saturated[k]) continue;
        rounds[k]?.push(await latencyRound(c, s, rate, bystandersOf(running, c)));
        sample(k);
      }
    }
    for (const [k, rs] of rounds.entries()) {
      if (saturated[k]) {
        latency[k]?.push({ rate, rounds: [], saturatedAtRps: Math.round(maxRps[k] as number) });
        continue;
      }
      // Keep one curve per rate (the median round's) to keep results.json small.
      const mid = median(rs.map((r) => r.p99));
      for (const r of rs) if (r.p99 !== mid) delete r.curve;
      latency[k]?.push({ rate, rounds: rs });
    }
  }
  if (LATENCY_FIRST) await measureThroughput();
  return running.map((c, k) => ({
    candidate: c.name,
    latency: latency[k] ?? [],
    throughput: throughput[k] ?? [],
    peakRssBytes: c.pids.length ? (peaks[k] ?? 0) : null,
  }));
}

/** The running candidates other than `c` whose processes share the proxy's CPU (direct has none). */
function bystandersOf(running: readonly Candidate[], c: Candidate): Candidate[] {
  return running.filter((o) => o !== c && o.pids.length > 0);
}

function commit(): string {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Writes report.md and the plots beside a results.json (also used to re-render an earlier run). */
function writeReport(out: string, results: RunResults): void {
  writeFileSync(join(out, 'report.md'), markdownReport(results));
  for (const s of results.scenarios) {
    const rate = Math.max(...(s.cells[0]?.latency.map((l) => l.rate) ?? [0]));
    writeFileSync(join(out, `${s.name}.svg`), percentileSvg(`${s.name}: latency by percentile at ${rate} req/s`, s.cells, rate));
  }
}

async function main(): Promise<void> {
  if (values.render) {
    writeReport(dirname(values.render), JSON.parse(readFileSync(values.render, 'utf8')) as RunResults);
    console.log(`rendered ${join(dirname(values.render), 'report.md')}`);
    return;
  }
  const wantScenarios = values.scenarios?.split(',') ?? (QUICK ? ['small-get', 'get-64k'] : scenarios.filter((s) => s.optIn !== true).map((s) => s.name));
  const wantCandidates = values.candidates?.split(',');
  const misnamed = [
    unknownNamesError(
      'scenarios',
      values.scenarios?.split(','),
      scenarios.map((s) => s.name),
    ),
    unknownNamesError(
      'candidates',
      wantCandidates,
      candidateSpecs.map((c) => c.name),
    ),
  ].filter((e) => e !== null);
  if (misnamed.length > 0) {
    for (const e of misnamed) console.error(e);
    process.exitCode = 2;
    return;
  }
  pinSelfToLoadCpu();
  const started = performance.now();
  const chosen = scenarios.filter((s) => wantScenarios.includes(s.name));
  const dir = benchTempDir('run');
  const floorBefore = hasTaskset ? measureWakeFloor(LOAD_CPU, PROXY_CPU) : null;
  if (floorBefore !== null) console.log(wakeFloorLogLine('before', LOAD_CPU, PROXY_CPU, floorBefore));
  const upstream = await startBenchUpstream(hasTaskset ? LOAD_CPU : undefined);
  const skipped: Record<string, string> = {};
  const running: Candidate[] = [];
  /** Candidates measured in some scenarios only: their names and those scenarios. */
  const onlyIn = new Map(candidateSpecs.flatMap((c) => (c.scenarios === undefined ? [] : [[c.name, c.scenarios] as const])));
  /** Stops every proxy started so far and the upstream: on the way out, and on an interruption. */
  const stopEverything = async () => {
    for (const c of running) await c.stop();
    upstream.stop();
  };
  stopOnSignal(stopEverything);
  try {
    for (const spec of candidateSpecs) {
      if (wantCandidates ? !wantCandidates.includes(spec.name) : spec.optIn === true) continue;
      const why = spec.missing();
      if (why !== null) {
        skipped[spec.name] = why;
        console.log(`skipped ${spec.name}: ${why}`);
        continue;
      }
      try {
        running.push(await spec.start({ upstreamPort: upstream.port, dir }));
        console.log(`started ${spec.name} (${spec.placement})`);
      } catch (err) {
        skipped[spec.name] = `failed to start: ${(err as Error).message}`;
        console.log(`skipped ${spec.name}: ${skipped[spec.name]}`);
      }
    }
    const results: RunResults = {
      date: new Date().toISOString(),
      commit: commit(),
      placement: hasTaskset
        ? `each proxy pinned to CPU ${PROXY_CPU} (Mantou N workers: all CPUs); load generator and upstream on CPU ${LOAD_CPU}`
        : 'taskset not found: no pinning',
      upstream: upstream.kind,
      wakeFloor: { before: floorBefore, after: null },
      load: `${LATENCY_FIRST ? 'latency rounds first (--latency-first); ' : ''}latency: open-loop generator (${ROUNDS} × ${LATENCY_MS} ms per rate, 50 connections${chosen
        .filter((s) => latencyRoundsOf(s, SHAPE) > ROUNDS)
        .map((s) => `; ${latencyRoundsOf(s, SHAPE)} rounds in ${s.name}, after an unmeasured one each at the first rate`)
        .join(
          '',
        )}); throughput: ${hasWrk ? 'wrk (1 thread' : 'autocannon (wrk not installed'}, ${ROUNDS} × ${THROUGHPUT_S} s, ${THROUGHPUT_CONNECTIONS} connections${chosen
        .filter((s) => throughputRoundsOf(s, SHAPE) > ROUNDS)
        .map((s) => `; ${throughputRoundsOf(s, SHAPE)} rounds in ${s.name}`)
        .join('')})`,
      skipped,
      scenarios: [],
    };
    const inScenario = (s: Scenario) => running.filter((c) => onlyIn.get(c.name)?.includes(s.name) ?? true);
    const planMs = chosen.reduce((a, s) => a + modelledScenarioMs(s, inScenario(s).length, SHAPE), 0);
    const defaultRun = values.rounds === undefined && values.candidates === undefined && values.scenarios === undefined;
    const limitMs = runLimitMs(QUICK ? QUICK_RUN_LIMIT_MS : DEFAULT_RUN_LIMIT_MS, planMs, defaultRun);
    budget.startPlan(planMs, limitMs);
    console.log(
      `plan: ${(planMs / 1000).toFixed(0)} s of measuring (nominal) after ${((performance.now() - started) / 1000).toFixed(0)} s of start-up; rounds are measured again only while the run's projected end stays within ${(limitMs / 1000).toFixed(0)} s`,
    );
    for (const s of chosen) {
      const cells = await measureScenario(inScenario(s), s, dir);
      for (const cell of cells) {
        const l = cell.latency[0];
        const at =
          l?.saturatedAtRps === undefined
            ? `p50 ${median(l?.rounds.map((r) => r.p50) ?? []).toFixed(0)} µs  p99 ${median(l?.rounds.map((r) => r.p99) ?? []).toFixed(0)} µs`
            : 'saturated';
        console.log(
          `${s.name.padEnd(15)} ${cell.candidate.padEnd(11)} ${median(cell.throughput.map((t) => t.rps))
            .toFixed(0)
            .padStart(7)} req/s   ${at} @ ${l?.rate}/s`,
        );
      }
      results.scenarios.push({ name: s.name, question: s.question, cells });
    }
    if (hasTaskset && results.wakeFloor) {
      results.wakeFloor.after = measureWakeFloor(LOAD_CPU, PROXY_CPU);
      if (results.wakeFloor.after !== null) console.log(wakeFloorLogLine('after', LOAD_CPU, PROXY_CPU, results.wakeFloor.after));
    }
    const stamp = results.date.slice(0, 19).replaceAll(':', '-');
    const out = join('bench', 'results', `${stamp}-${results.commit}`);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
    writeReport(out, results);
    console.log(`\nreport: ${join(out, 'report.md')} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    if (values.compare) {
      const before = JSON.parse(readFileSync(values.compare, 'utf8')) as RunResults;
      const { notes, flags } = compareRuns(before, results);
      for (const n of notes) console.log(`compare: ${n}`);
      console.log(flags.length === 0 ? 'no regression beyond the noise band' : `regressions:\n${flags.map((f) => `  ${f}`).join('\n')}`);
      if (flags.length > 0) process.exitCode = 3;
    }
  } finally {
    await stopEverything();
  }
}

await main();
