// `npm run bench:upload-cpu [-- --rounds N]`: what one 1 MiB upload costs each thread of a Mantou worker, by route.
// bench:offload measures what uploads do to other requests' p99; this says where the CPU goes, which that p99
// cannot. One worker on the proxy's core; 20 uploads a second for 5 s per route, after 1.5 s the same that is not
// counted (JIT, pools); per-thread user+system time from /proc/<pid>/task/*/stat, in clock ticks (10 ms: the
// figures are good to about 0.1 ms an upload at 100 uploads).
//
// Routes, in alternating rounds:
//   /upload         no filters: the native engine relays the body as it comes
//   /scan           body-scan's patterns in the offload pool (the route goes to the net engine)
//   /scan-trivial   one anchored pattern in the pool: the net engine's and the pool's cost without a real scan
//   /scan-inline    the same on the worker's own event loop (offload: false)

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchTempDir, hasTaskset, LOAD_CPU, mantouArgs, PROXY_CPU, roundsArg, spawnUntil, stopOnSignal } from './candidates.ts';
import { CLOCK_TICKS_PER_S, threadTimes } from './proc-stats.ts';
import { startBenchUpstream } from './upstream.ts';

const ROUNDS = roundsArg(2);
const PER_SECOND = 20;
const WARM_MS = 1500;
const MEASURED_MS = 5000;
const TICK_MS = 1000 / CLOCK_TICKS_PER_S;
const ROUTES = ['/upload', '/scan', '/scan-trivial', '/scan-inline'];
const PATTERNS = ['secret-token-[0-9a-f]{16}', 'drop\\s+table', '<script[^>]*>', 'union\\s+select'].map((p) => JSON.stringify(p)).join(', ');

const upstream = await startBenchUpstream(hasTaskset ? LOAD_CPU : undefined);
const dir = benchTempDir('upload-cpu');
const file = join(dir, 'upload-cpu.yaml');
writeFileSync(
  file,
  [
    'workers: 1',
    'admin: { port: 0 }',
    'listeners:',
    '  - name: bench',
    '    address: 127.0.0.1',
    '    port: 0',
    `    filters: [{ name: body-scan, config: { patterns: [${PATTERNS}], maxBytes: 2097152, timeoutMs: 5000 } }]`,
    '    routes:',
    "      - { match: { path: { prefix: /scan-inline } }, cluster: up, filters: { body-scan: { config: { patterns: ['^zzz'], maxBytes: 2097152, offload: false } } } }",
    "      - { match: { path: { prefix: /scan-trivial } }, cluster: up, filters: { body-scan: { config: { patterns: ['^zzz'], maxBytes: 2097152 } } } }",
    '      - { match: { path: { prefix: /scan } }, cluster: up }',
    '      - { match: { path: { prefix: /upload } }, cluster: up, filters: { body-scan: { disabled: true } } }',
    'clusters:',
    '  - name: up',
    `    endpoints: [{ address: 127.0.0.1, port: ${upstream.port} }]`,
    '',
  ].join('\n'),
);
// Started before anything can throw, and stopped however the run ends (a proxy that fails to start included).
let proxy: Awaited<ReturnType<typeof spawnUntil>> | null = null;
const stopAll = () => {
  proxy?.child.kill('SIGTERM');
  upstream.stop();
};
stopOnSignal(stopAll);
let port = 0;
let pid = 0;

/** The upload client of bench:offload, on the load core, for `ms`; resolves with how many uploads got a 200. */
async function uploads(path: string, ms: number): Promise<number> {
  const args = ['bench/peers/upload-load.ts', '--port', String(port), '--path', path, '--per-second', String(PER_SECOND), '--ms', String(ms)];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', LOAD_CPU, process.execPath, ...args]] : [process.execPath, args];
  const { stdout } = await promisify(execFile)(cmd, argv, { encoding: 'utf8' });
  return (JSON.parse(stdout.trim()) as { ok: number }).ok;
}

try {
  proxy = await spawnUntil(mantouArgs(file), /"ports":\{"bench":(\d+)\}/, hasTaskset ? PROXY_CPU : undefined);
  proxy.child.stdout?.resume();
  port = Number(proxy.match[1]);
  pid = proxy.child.pid as number;
  console.log(`one worker on CPU ${PROXY_CPU}; ${PER_SECOND} uploads of 1 MiB a second for ${MEASURED_MS / 1000} s a route, ${ROUNDS} rounds`);
  console.log('CPU ms per upload: the worker thread (user/system), the busiest other threads');
  for (let round = 1; round <= ROUNDS; round++) {
    for (const path of ROUTES) {
      await uploads(path, WARM_MS);
      const before = threadTimes(pid);
      const ok = await uploads(path, MEASURED_MS);
      const after = threadTimes(pid);
      const per = [...after].map(([tid, t]) => {
        const b = before.get(tid) ?? { user: 0, system: 0 };
        return { tid, name: t.name, user: ((t.user - b.user) * TICK_MS) / ok, system: ((t.system - b.system) * TICK_MS) / ok };
      });
      per.sort((x, y) => y.user + y.system - (x.user + x.system));
      // The worker thread moves the bytes: under uploads it has the most system time of all.
      const worker = [...per].sort((x, y) => y.system - x.system)[0];
      const others = per.filter((t) => t !== worker && t.user + t.system > 0).slice(0, 4);
      const w = worker === undefined ? '-' : `${(worker.user + worker.system).toFixed(2)} (${worker.user.toFixed(2)}/${worker.system.toFixed(2)})`;
      console.log(
        `round ${round} ${path.padEnd(13)} ${ok} uploads  worker ${w}  ${others.map((t) => `${t.name}:${t.tid} ${(t.user + t.system).toFixed(2)}`).join('  ')}`,
      );
    }
  }
} finally {
  stopAll();
}
