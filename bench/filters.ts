// `npm run bench:filters`: what the filter chain costs. Mantou (1 worker, pinned to CPU 1) with 0, 1, 5 and 10
// pass-through filters and with a chain of the built-ins configured to let everything through, against direct,
// all in one run: wrk rounds (throughput, proxy CPU per request) and open-loop rounds at 1,000 req/s (p50/p99),
// alternating between candidates, medians. The pass-through filter has an onResponse that may wait, so its
// routes are the `net` engine's; the same filter declared synchronousResponse, and the built-ins (all native
// since 2026-12-01), run on the default `native` one. So "0 filters" runs on each engine, ten pass-through
// filters on each, the built-ins on each: the cost per filter is the CPU per request of 10 filters minus none on
// the same engine, divided by 10; the step from `native` to `net` is reported apart. Ten filters with every hook
// the native engine runs (onUpstreamRequest and onDone besides) show what those hooks add there. `-- --rounds N`
// measures N rounds instead of 3.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILTIN_CHAIN,
  benchTempDir,
  type Candidate,
  hasTaskset,
  LOAD_CPU,
  mantou,
  onPath,
  PROXY_CPU,
  pinnedSpawn,
  pinSelfToLoadCpu,
  roundsArg,
  stopOnSignal,
} from './candidates.ts';
import { openLoop } from './open-loop.ts';
import { cpuSeconds } from './proc-stats.ts';
import { startBenchUpstream } from './upstream.ts';

/** Alternating rounds (`-- --rounds N`, default 3): the cost of one filter is below the noise of three. */
const ROUNDS = roundsArg(3);
const WRK_S = 3;
const LATENCY_MS = 1500;
const PASS = new URL('./peers/pass-through-filter.ts', import.meta.url).pathname;
const PASS_NATIVE = new URL('./peers/pass-through-native-filter.ts', import.meta.url).pathname;
const PASS_EVERY_PHASE = new URL('./peers/pass-through-every-phase-filter.ts', import.meta.url).pathname;
const REQUEST = Buffer.from('GET /size/13 HTTP/1.1\r\nhost: bench\r\n\r\n');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function passThrough(n: number, module = PASS): string[] {
  return Array.from({ length: n }, (_, i) => `{ name: pass-${i}, module: ${module} }`);
}

function wrk(port: number): Promise<{ rps: number; total: number }> {
  return new Promise((resolve) => {
    const child = pinnedSpawn(LOAD_CPU, 'wrk', ['-t1', '-c50', `-d${WRK_S}s`, `http://127.0.0.1:${port}/size/13`]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('close', () => resolve({ rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), total: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0) }));
  });
}

async function main(): Promise<void> {
  if (!onPath('wrk')) {
    console.error('bench:filters needs wrk (bash bench/setup-peers.sh)');
    process.exit(1);
  }
  pinSelfToLoadCpu();
  const upstream = await startBenchUpstream(hasTaskset ? LOAD_CPU : undefined);
  const upstreamPort = upstream.port;
  const dir = benchTempDir('filters');
  const variants: (Candidate & { label: string })[] = [];
  const stopAll = async () => {
    for (const v of variants) await v.stop();
    upstream.stop();
  };
  stopOnSignal(stopAll);
  try {
    for (const [name, filters] of [
      ['0 filters', []],
      ['0 filters (net)', []],
      ['1 filter', passThrough(1)],
      ['5 filters', passThrough(5)],
      ['10 filters', passThrough(10)],
      ['10 filters (native)', passThrough(10, PASS_NATIVE)],
      ['10 filters, every phase (native)', passThrough(10, PASS_EVERY_PHASE)],
      ['built-ins (5)', BUILTIN_CHAIN],
      ['built-ins (5, net)', BUILTIN_CHAIN],
    ] as [string, string[]][]) {
      // A directory each: the candidate writes its config under its own name, the same for every chain.
      const engine = name.endsWith('net)') ? 'net' : undefined;
      const started = await mantou(1, PROXY_CPU, engine, filters).start({ upstreamPort, dir: mkdtempSync(join(dir, 'variant-')) });
      variants.push({ ...started, label: name });
    }
    const targets = [{ name: 'direct', port: upstreamPort, pid: 0 }, ...variants.map((v) => ({ name: v.label, port: v.port, pid: v.pids[0] as number }))];
    const stats = new Map(targets.map((t) => [t.name, { rps: [] as number[], cpuUs: [] as number[], p50: [] as number[], p99: [] as number[] }]));
    // Warm-up: JIT and pools, one wrk round each.
    for (const t of targets) await wrk(t.port);
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of targets) {
        const s = stats.get(t.name) as { rps: number[]; cpuUs: number[]; p50: number[]; p99: number[] };
        const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
        const w = await wrk(t.port);
        s.rps.push(w.rps);
        if (t.pid) s.cpuUs.push(((cpuSeconds(t.pid) - cpu0) / Math.max(1, w.total)) * 1e6);
        const l = await openLoop({ port: t.port, rate: 1000, durationMs: LATENCY_MS, connections: 50, request: REQUEST, newConnection: false });
        s.p50.push(l.histogram.getValueAtPercentile(50));
        s.p99.push(l.histogram.getValueAtPercentile(99));
        l.histogram.destroy();
      }
    }
    const d = stats.get('direct') as { p50: number[]; p99: number[] };
    const d50 = median(d.p50);
    const d99 = median(d.p99);
    console.log(`placement: ${hasTaskset ? `Mantou on CPU ${PROXY_CPU}; wrk, open-loop generator and upstream on CPU ${LOAD_CPU}` : 'no taskset: unpinned'}`);
    console.log(`wrk 50 connections ${WRK_S}s and open-loop 1,000 req/s ${LATENCY_MS} ms, ${ROUNDS} alternating rounds; medians\n`);
    console.log('| chain | req/s | CPU µs/request | p50 | p99 | added p50 | added p99 |');
    console.log('|---|---|---|---|---|---|---|');
    for (const [name, s] of stats) {
      const cpu = s.cpuUs.length ? median(s.cpuUs).toFixed(1) : '—';
      const p50 = median(s.p50);
      const p99 = median(s.p99);
      const added = name === 'direct' ? ['—', '—'] : [`${(p50 - d50).toFixed(0)} µs`, `${(p99 - d99).toFixed(0)} µs`];
      console.log(`| ${name} | ${median(s.rps).toFixed(0)} | ${cpu} | ${p50} µs | ${p99} µs | ${added[0]} | ${added[1]} |`);
    }
    const native0 = median(stats.get('0 filters')?.cpuUs ?? [0]);
    const c0 = median(stats.get('0 filters (net)')?.cpuUs ?? [0]);
    const c10 = median(stats.get('10 filters')?.cpuUs ?? [0]);
    const c10n = median(stats.get('10 filters (native)')?.cpuUs ?? [0]);
    const c10e = median(stats.get('10 filters, every phase (native)')?.cpuUs ?? [0]);
    const cb = median(stats.get('built-ins (5)')?.cpuUs ?? [0]);
    const cbn = median(stats.get('built-ins (5, net)')?.cpuUs ?? [0]);
    console.log(
      `\nper pass-through filter: ${((c10 - c0) / 10).toFixed(2)} µs CPU per request on net; on native, ten filters over none: ${(c10n - native0).toFixed(1)} µs (most of it the fixed cost of a filtered exchange: the heads handed to JavaScript and back); their onUpstreamRequest and onDone besides: ${((c10e - c10n) / 20).toFixed(2)} µs a hook; built-in chain of 5: ${(cb - native0).toFixed(1)} µs on native, ${(cbn - c0).toFixed(1)} µs on net (each against no filters on the same engine); no filters on net against native: ${(c0 - native0).toFixed(1)} µs`,
    );
  } finally {
    await stopAll();
  }
}

await main();
