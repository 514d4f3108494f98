// `npm run bench:ab -- --before <dir> [--after <dir>] [--rounds N] [--rates 1000,5000]`: a hot-path change measured
// before and after, in one run. Two checkouts of Mantou (each with its own native addon built: a git worktree with
// `node_modules` linked and `npm run build:native` run in it) serve small GETs, one worker each, both pinned to the
// proxy's CPU; the open-loop generator and the C upstream on the other. Rounds alternate between the two (ABBA…),
// so an hour's noise falls on both; reported: medians of p50, p99 and the proxy's CPU per request (from
// /proc/<pid>/task/*/schedstat, in ns), and in how many round pairs `after` used less CPU than `before`.

import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MANTOU_NODE_FLAGS } from '../core/node-flags.ts';
import { benchTempDir, LOAD_CPU, PROXY_CPU, pinSelfToLoadCpu, spawnUntil, stopOnSignal } from './candidates.ts';
import { openLoop } from './open-loop.ts';
import { runNanos } from './proc-stats.ts';
import { startBenchUpstream } from './upstream.ts';

const { values } = parseArgs({
  options: {
    before: { type: 'string' },
    after: { type: 'string', default: '.' },
    rounds: { type: 'string', default: '9' },
    rates: { type: 'string', default: '1000,5000' },
  },
});
if (values.before === undefined) {
  console.error('usage: npm run bench:ab -- --before <checkout> [--after <checkout>] [--rounds N] [--rates 1000,5000]');
  process.exit(2);
}
const trees = { before: resolve(values.before), after: resolve(values.after) };
for (const dir of Object.values(trees)) {
  if (!existsSync(join(dir, 'core/cli.ts'))) {
    console.error(`${dir} is not a Mantou checkout (no core/cli.ts)`);
    process.exit(2);
  }
}
const ROUNDS = Number(values.rounds);
const RATES = values.rates.split(',').map(Number);
const ROUND_MS = 3000;
const CONNECTIONS = 50;
const REQUEST = Buffer.from('GET /size/13 HTTP/1.1\r\nHost: bench\r\n\r\n');

interface Proxy {
  name: string;
  child: ChildProcess;
  port: number;
}

/** Starts the checkout's proxy as `npm start` would (its own core/cli.ts, so its own addon), pinned to PROXY_CPU. */
async function start(name: string, root: string, file: string): Promise<Proxy> {
  const args = [...MANTOU_NODE_FLAGS, join(root, 'core/cli.ts'), 'run', '-c', file];
  const { child, match } = await spawnUntil(args, /"ports":\{"bench":(\d+)\}/, PROXY_CPU);
  child.stdout?.resume();
  return { name, child, port: Number(match[1]) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  pinSelfToLoadCpu();
  const upstream = await startBenchUpstream(LOAD_CPU);
  const file = join(benchTempDir('ab'), 'mantou.yaml');
  writeFileSync(
    file,
    `workers: 1\nadmin: { port: 0 }\nlisteners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n    engine: native\n    routes: [{ cluster: upstream }]\nclusters:\n  - name: upstream\n    endpoints: [{ address: 127.0.0.1, port: ${upstream.port} }]\n`,
  );
  const proxies: Proxy[] = [];
  const stopAll = () => {
    for (const p of proxies) p.child.kill('SIGTERM');
    upstream.stop();
  };
  stopOnSignal(stopAll);
  try {
    proxies.push(await start('before', trees.before, file), await start('after', trees.after, file));
    console.log(`before: ${trees.before}\nafter:  ${trees.after}\n${ROUNDS} alternating rounds of ${ROUND_MS} ms per rate, ${CONNECTIONS} connections`);
    for (const rate of RATES) {
      const seen = new Map<string, { p50: number[]; p99: number[]; cpuUs: number[] }>();
      // Warm both at this rate, unmeasured.
      for (const p of proxies) await openLoop({ port: p.port, rate, durationMs: 1000, connections: CONNECTIONS, request: REQUEST, newConnection: false });
      for (let i = 0; i < ROUNDS; i++) {
        for (const p of i % 2 === 0 ? proxies : [...proxies].reverse()) {
          const pid = p.child.pid as number;
          const cpu0 = runNanos(pid);
          const r = await openLoop({ port: p.port, rate, durationMs: ROUND_MS, connections: CONNECTIONS, request: REQUEST, newConnection: false });
          const cpuUs = (runNanos(pid) - cpu0) / Math.max(1, r.completed) / 1000;
          const s = seen.get(p.name) ?? { p50: [], p99: [], cpuUs: [] };
          s.p50.push(r.histogram.getValueAtPercentile(50));
          s.p99.push(r.histogram.getValueAtPercentile(99));
          s.cpuUs.push(cpuUs);
          seen.set(p.name, s);
        }
      }
      const b = seen.get('before') as { p50: number[]; p99: number[]; cpuUs: number[] };
      const a = seen.get('after') as { p50: number[]; p99: number[]; cpuUs: number[] };
      const lower = a.cpuUs.filter((x, i) => x < (b.cpuUs[i] as number)).length;
      console.log(`\nat ${rate} req/s`);
      for (const [name, s] of [
        ['before', b],
        ['after', a],
      ] as const) {
        console.log(
          `  ${name.padEnd(6)} p50 ${median(s.p50)} µs, p99 ${median(s.p99)} µs, CPU ${median(s.cpuUs).toFixed(1)} µs a request [${s.cpuUs.map((x) => x.toFixed(1)).join(', ')}]`,
        );
      }
      console.log(`  after used less CPU than before in ${lower} of ${ROUNDS} round pairs`);
    }
  } finally {
    stopAll();
  }
}

await main();
