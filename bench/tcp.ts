// `npm run bench:tcp`: the TCP proxy against direct and HAProxy `mode tcp`, one worker (one thread) on CPU 1; load
// generators and upstreams on CPU 0. Three measures, in alternating rounds, medians reported:
//   bulk up / bulk down   one session moving BULK_MIB MiB client → upstream / upstream → client (MB/s), Node
//                         peers (bench/peers/tcp-bulk.ts) on both ends for every candidate
//   new sessions          wrk with `Connection: close` (a new TCP session per request) against a small nginx
//                         upstream through the proxy (sessions/s), both C, so the proxy is what runs out
//   round trip            one session, PINGS sequential 64-byte echoes: the median round trip (direct is not a
//                         floor here: without a proxy, client and echo server share CPU 0 and take turns on it)
// plus the proxy's CPU seconds per GiB and per 1,000 sessions. Target (issue 7): at least 0.8× HAProxy on both.
// Mantou runs twice: on its native relay (the default) and on node:net (MANTOU_NATIVE_L4=off, the fallback).
// Results go to bench/results/<time>-tcp/ (results.json, report.md).

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  benchTempDir,
  freePort,
  hasTaskset,
  LOAD_CPU,
  mantouArgs,
  onPath,
  PROXY_CPU,
  pinnedSpawn,
  spawnUntil,
  stopper,
  template,
  waitForPort,
} from './candidates.ts';
import { cpuSeconds } from './proc-stats.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BULK_MIB = 1024;
const WRK_SECONDS = 4;
const WRK_CONNECTIONS = 32;
const PINGS = 5000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

interface Candidate {
  name: string;
  /** Ports through which the bulk server and the nginx upstream are reached. */
  bulkPort: number;
  httpPort: number;
  pid: number | null;
  stop(): Promise<void>;
}

interface Sample {
  rttP50us: number;
  upMBps: number;
  downMBps: number;
  sessionsPerS: number;
  cpuPerGiB: number;
  cpuPer1kSessions: number;
}

function bulk(port: number, mode: 'up' | 'down'): number {
  const args = ['bench/peers/tcp-bulk.ts', 'client', '--port', String(port), '--mode', mode, '--mib', String(BULK_MIB)];
  const out = execFileSync(hasTaskset ? 'taskset' : process.execPath, hasTaskset ? ['-c', LOAD_CPU, process.execPath, ...args] : args, { encoding: 'utf8' });
  const r = JSON.parse(out.trim()) as { mbPerS?: number; ok?: boolean; error?: string };
  if (r.mbPerS === undefined || r.ok !== true) throw new Error(`bulk ${mode} via ${port} failed: ${out}`);
  return r.mbPerS;
}

function roundTrip(port: number): number {
  const args = ['bench/peers/tcp-bulk.ts', 'client', '--port', String(port), '--mode', 'pingpong', '--count', String(PINGS)];
  const out = execFileSync(hasTaskset ? 'taskset' : process.execPath, hasTaskset ? ['-c', LOAD_CPU, process.execPath, ...args] : args, { encoding: 'utf8' });
  return (JSON.parse(out.trim()) as { p50us: number }).p50us;
}

function sessions(port: number): { perS: number; errors: number } {
  const args = ['-t1', `-c${WRK_CONNECTIONS}`, `-d${WRK_SECONDS}s`, '-H', 'Connection: close', `http://127.0.0.1:${port}/`];
  const out = execFileSync(hasTaskset ? 'taskset' : 'wrk', hasTaskset ? ['-c', LOAD_CPU, 'wrk', ...args] : args, { encoding: 'utf8' });
  const perS = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 'NaN');
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0');
  return { perS, errors: non2xx + (errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0) };
}

/** `relay`: the native relay (the default), or node:net (MANTOU_NATIVE_L4=off), which every session used before it. */
async function startMantou(dir: string, bulkUpstream: number, httpUpstream: number, relay: 'native' | 'node:net'): Promise<Candidate> {
  const file = join(dir, 'mantou-tcp.yaml');
  writeFileSync(
    file,
    [
      'workers: 1',
      'admin: { port: 0 }',
      'listeners:',
      '  - { name: bulk, protocol: tcp, address: 127.0.0.1, port: 0, cluster: bulk, accessLog: false }',
      '  - { name: http, protocol: tcp, address: 127.0.0.1, port: 0, cluster: http, accessLog: false }',
      'clusters:',
      `  - { name: bulk, endpoints: [{ address: 127.0.0.1, port: ${bulkUpstream} }] }`,
      `  - { name: http, endpoints: [{ address: 127.0.0.1, port: ${httpUpstream} }] }`,
    ].join('\n'),
  );
  const env = relay === 'native' ? process.env : { ...process.env, MANTOU_NATIVE_L4: 'off' };
  const { child, match } = await spawnUntil(mantouArgs(file), /"ports":(\{[^}]*\})/, hasTaskset ? PROXY_CPU : undefined, env);
  child.stdout?.resume();
  const ports = JSON.parse(match[1] as string) as { bulk: number; http: number };
  const name = relay === 'native' ? 'mantou-tcp-1w' : 'mantou-tcp-1w-nodenet';
  return { name, bulkPort: ports.bulk, httpPort: ports.http, pid: child.pid as number, stop: stopper(child) };
}

async function startHaproxy(dir: string, bulkUpstream: number, httpUpstream: number): Promise<Candidate> {
  const bulkPort = await freePort();
  const httpPort = await freePort();
  const text = template('haproxy-tcp.cfg', { PORT: bulkPort, UPSTREAM: bulkUpstream });
  const second = `listen http\n  bind 127.0.0.1:${httpPort}\n  server s1 127.0.0.1:${httpUpstream}\n`;
  const cfg = join(dir, 'haproxy-tcp.cfg');
  writeFileSync(cfg, `${text}${second}`);
  const child = pinnedSpawn(PROXY_CPU, 'haproxy', ['-f', cfg, '-db']);
  child.stdout?.resume();
  child.stderr?.resume();
  await waitForPort(bulkPort, child, 'haproxy');
  return { name: 'haproxy-tcp', bulkPort, httpPort, pid: child.pid as number, stop: stopper(child) };
}

function measure(c: Candidate): Sample {
  const rttP50us = roundTrip(c.bulkPort);
  const cpu0 = c.pid === null ? 0 : cpuSeconds(c.pid);
  const upMBps = bulk(c.bulkPort, 'up');
  const downMBps = bulk(c.bulkPort, 'down');
  const cpu1 = c.pid === null ? 0 : cpuSeconds(c.pid);
  const s = sessions(c.httpPort);
  const cpu2 = c.pid === null ? 0 : cpuSeconds(c.pid);
  if (s.errors > 0) console.warn(`${c.name}: ${s.errors} wrk errors`);
  return {
    rttP50us,
    upMBps,
    downMBps,
    sessionsPerS: s.perS,
    cpuPerGiB: (cpu1 - cpu0) / 2,
    cpuPer1kSessions: ((cpu2 - cpu1) / (s.perS * WRK_SECONDS)) * 1000,
  };
}

async function main(): Promise<void> {
  if (!onPath('wrk') || !onPath('nginx')) throw new Error('bench:tcp needs wrk and nginx (bash bench/setup-peers.sh)');
  const dir = benchTempDir('tcp');
  const bulkServer = await spawnUntil(['bench/peers/tcp-bulk.ts', 'server', '--port', '0'], /listening (\d+)/, hasTaskset ? LOAD_CPU : undefined);
  const bulkUpstream = Number(bulkServer.match[1]);
  const httpUpstream = await freePort();
  writeFileSync(join(dir, 'nginx-static.conf'), template('nginx-static.conf', { DIR: dir, PORT: httpUpstream }));
  const nginx = pinnedSpawn(LOAD_CPU, 'nginx', ['-c', join(dir, 'nginx-static.conf'), '-p', dir]);
  nginx.stderr?.resume();
  const stops = [stopper(bulkServer.child), stopper(nginx)];
  const candidates: Candidate[] = [];
  try {
    await waitForPort(httpUpstream, nginx, 'nginx');
    candidates.push({ name: 'direct', bulkPort: bulkUpstream, httpPort: httpUpstream, pid: null, stop: async () => {} });
    candidates.push(await startMantou(dir, bulkUpstream, httpUpstream, 'native'));
    candidates.push(await startMantou(dir, bulkUpstream, httpUpstream, 'node:net'));
    if (onPath('haproxy')) candidates.push(await startHaproxy(dir, bulkUpstream, httpUpstream));
    else console.warn('haproxy not installed (bash bench/setup-peers.sh): skipped');
    const samples = new Map<string, Sample[]>(candidates.map((c) => [c.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so drift on this shared machine does not favour one candidate.
      const order = round % 2 === 0 ? candidates : [...candidates].reverse();
      for (const c of order) {
        const s = measure(c);
        samples.get(c.name)?.push(s);
        console.log(
          `round ${round + 1} ${c.name.padEnd(22)} rtt ${s.rttP50us.toFixed(0)} µs  up ${s.upMBps.toFixed(0)} MB/s  down ${s.downMBps.toFixed(0)} MB/s  ${s.sessionsPerS.toFixed(0)} sessions/s`,
        );
      }
    }
    report(samples);
  } finally {
    for (const c of candidates) await c.stop();
    for (const stop of stops) await stop();
  }
}

function report(samples: Map<string, Sample[]>): void {
  const med = (name: string, k: keyof Sample) => median((samples.get(name) ?? []).map((s) => s[k]));
  const names = [...samples.keys()];
  const ref = samples.has('haproxy-tcp') ? 'haproxy-tcp' : null;
  const ratio = (name: string, k: keyof Sample) => (ref === null ? '–' : `${(med(name, k) / med(ref, k)).toFixed(2)}×`);
  const rows = names.map(
    (n) =>
      `| ${n} | ${med(n, 'rttP50us').toFixed(0)} (${ratio(n, 'rttP50us')}) | ${med(n, 'upMBps').toFixed(0)} (${ratio(n, 'upMBps')}) | ${med(n, 'downMBps').toFixed(0)} (${ratio(n, 'downMBps')}) | ${med(n, 'sessionsPerS').toFixed(0)} (${ratio(n, 'sessionsPerS')}) | ${n === 'direct' ? '–' : med(n, 'cpuPerGiB').toFixed(2)} | ${n === 'direct' ? '–' : med(n, 'cpuPer1kSessions').toFixed(3)} |`,
  );
  const table = [
    `TCP proxy, ${ROUNDS} alternating rounds, medians (ratio to HAProxy mode tcp). Proxies on CPU ${PROXY_CPU}, peers and load on CPU ${LOAD_CPU}.`,
    '',
    '| candidate | round trip p50 µs | bulk up MB/s | bulk down MB/s | new sessions/s | proxy CPU s per GiB | proxy CPU s per 1k sessions |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(`\n${table}`);
  const stamp = new Date().toISOString().slice(0, 19).replaceAll(':', '-');
  const out = join('bench', 'results', `${stamp}-tcp`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(Object.fromEntries(samples), null, 2)}\n`);
  writeFileSync(join(out, 'report.md'), `${table}\n`);
  console.log(`\nwritten to ${out}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
