// `npm run bench:workers`: Mantou with 1 worker vs 2 workers on this machine, same load, alternating rounds,
// medians. The load generator and the upstream run on the same 2 cores, so the ratio shows what a second
// worker buys when the proxy competes for CPU, not ideal scaling. Reports req/s and proxy CPU per request.

import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchTempDir, mantouArgs, spawnUntil, stopOnSignal } from './candidates.ts';
import { cpuSeconds } from './proc-stats.ts';
import { startBenchUpstream } from './upstream.ts';

const ROUNDS = 3;
const DURATION_S = 4;
const CONNECTIONS = 64;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function measure(port: number, pid: number): Promise<{ rps: number; cpuUs: number; errors: number }> {
  const cpu0 = cpuSeconds(pid);
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: DURATION_S });
  return { rps: r.requests.average, cpuUs: ((cpuSeconds(pid) - cpu0) / r.requests.total) * 1e6, errors: r.errors + r.timeouts + r.non2xx };
}

async function main(): Promise<void> {
  const upstream = await startBenchUpstream();
  const dir = benchTempDir('workers');
  const proxies: { workers: number; child: ChildProcess; port: number }[] = [];
  const stopAll = () => {
    for (const p of proxies) p.child.kill('SIGTERM');
    upstream.stop();
  };
  stopOnSignal(stopAll);
  try {
    for (const workers of [1, 2]) {
      const file = join(dir, `w${workers}.yaml`);
      writeFileSync(
        file,
        `workers: ${workers}\nadmin: { port: 0 }\nlisteners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n    routes: [{ cluster: up }]\nclusters:\n  - name: up\n    endpoints: [{ address: 127.0.0.1, port: ${upstream.port} }]\n`,
      );
      const p = await spawnUntil(mantouArgs(file), /"ports":\{"bench":(\d+)\}/);
      proxies.push({ workers, child: p.child, port: Number(p.match[1]) });
    }
    for (const p of proxies) await measure(p.port, p.child.pid as number);
    const results = new Map<number, { rps: number; cpuUs: number; errors: number }[]>(proxies.map((p) => [p.workers, []]));
    for (let i = 0; i < ROUNDS; i++) for (const p of proxies) results.get(p.workers)?.push(await measure(p.port, p.child.pid as number));
    console.log(`autocannon ${CONNECTIONS} connections, ${DURATION_S}s × ${ROUNDS} rounds, alternating; medians`);
    for (const [workers, rs] of results) {
      console.log(
        `${workers} worker(s): ${median(rs.map((r) => r.rps)).toFixed(0)} req/s, CPU ${median(rs.map((r) => r.cpuUs)).toFixed(1)} µs/request, errors ${rs.reduce((a, r) => a + r.errors, 0)}`,
      );
    }
    const one = median(results.get(1)?.map((r) => r.rps) ?? [0]);
    const two = median(results.get(2)?.map((r) => r.rps) ?? [0]);
    console.log(`ratio 2 workers / 1 worker: ${(two / one).toFixed(2)}`);
  } finally {
    stopAll();
  }
}

await main();
