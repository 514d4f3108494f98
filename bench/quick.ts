// `npm run bench:quick`: the smoke test of speed. A fixed-response upstream, then autocannon against it directly
// and through Mantou (same connections, same duration, alternating rounds, medians), plus a sequential
// keep-alive round-trip probe for the added per-hop latency at µs resolution (autocannon records whole ms).
// Placement: Mantou on CPU 1, the load generator and the upstream on CPU 0 (when taskset exists).
// `-- --engine net|uws|native` picks the downstream engine (default: the listener default).

import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { benchTempDir, hasTaskset, LOAD_CPU, mantouArgs, PROXY_CPU, pinSelfToLoadCpu, spawnUntil, stopOnSignal } from './candidates.ts';
import { cpuSeconds } from './proc-stats.ts';
import { startBenchUpstream } from './upstream.ts';

const ROUNDS = 3;
const DURATION_S = 3;
const CONNECTIONS = 32;
const PROBE_REQUESTS = 3000;
const { values } = parseArgs({ options: { engine: { type: 'string' } } });
if (values.engine !== undefined && values.engine !== 'net' && values.engine !== 'uws' && values.engine !== 'native') {
  console.error('--engine must be net, uws or native');
  process.exit(2);
}
const ENGINE_LINE = values.engine === undefined ? '' : `    engine: ${values.engine}\n`;

interface LoadResult {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(port: number): Promise<LoadResult> {
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: DURATION_S });
  return { rps: r.requests.average, total: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

/** Sequential GETs on one keep-alive connection; returns round-trip times in µs. */
function probe(port: number, count: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const times: number[] = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const req = Buffer.from('GET /probe HTTP/1.1\r\nHost: bench\r\n\r\n');
    let t0 = 0;
    let buf = '';
    const send = () => {
      t0 = performance.now();
      socket.write(req);
    };
    socket.on('connect', send);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, end))?.[1] ?? '0');
      if (buf.length < end + 4 + len) return;
      times.push((performance.now() - t0) * 1000);
      buf = buf.slice(end + 4 + len);
      if (times.length >= count) {
        socket.destroy();
        resolve(times);
      } else send();
    });
    socket.on('error', reject);
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] as number;

async function main(): Promise<void> {
  pinSelfToLoadCpu();
  const upstream = await startBenchUpstream(hasTaskset ? LOAD_CPU : undefined);
  let proxy: Awaited<ReturnType<typeof spawnUntil>> | null = null;
  const stopAll = () => {
    proxy?.child.kill('SIGTERM');
    upstream.stop();
  };
  stopOnSignal(stopAll);
  const upstreamPort = upstream.port;
  const dir = benchTempDir('quick');
  const config = join(dir, 'mantou.yaml');
  writeFileSync(
    config,
    `listeners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n${ENGINE_LINE}    routes: [{ cluster: upstream }]\nclusters:\n  - name: upstream\n    endpoints: [{ address: 127.0.0.1, port: ${upstreamPort} }]\n`,
  );
  try {
    proxy = await spawnUntil(mantouArgs(config), /"ports":\{"bench":(\d+)\}/, hasTaskset ? PROXY_CPU : undefined);
    const proxyPort = Number(proxy.match[1]);
    console.log(`placement: ${hasTaskset ? `Mantou on CPU ${PROXY_CPU}; upstream and load generator on CPU ${LOAD_CPU}` : 'taskset not found: no pinning'}`);
    console.log(`load: autocannon, ${CONNECTIONS} keep-alive connections, ${DURATION_S}s per round, ${ROUNDS} rounds each, alternating`);
    await load(upstreamPort);
    await load(proxyPort);
    const direct: LoadResult[] = [];
    const proxied: LoadResult[] = [];
    const cpuPerRequest: number[] = [];
    const proxyPid = proxy.child.pid as number;
    for (let i = 0; i < ROUNDS; i++) {
      direct.push(await load(upstreamPort));
      const cpu0 = cpuSeconds(proxyPid);
      const r = await load(proxyPort);
      cpuPerRequest.push(((cpuSeconds(proxyPid) - cpu0) / r.total) * 1e6);
      proxied.push(r);
    }
    const probeDirect = await probe(upstreamPort, PROBE_REQUESTS);
    const probeProxy = await probe(proxyPort, PROBE_REQUESTS);
    const row = (name: string, rs: LoadResult[]) =>
      `${name.padEnd(8)} ${median(rs.map((r) => r.rps))
        .toFixed(0)
        .padStart(8)} req/s   p50 ${median(rs.map((r) => r.p50)).toFixed(2)} ms   p99 ${median(rs.map((r) => r.p99)).toFixed(
        2,
      )} ms   errors ${rs.reduce((a, r) => a + r.errors + r.non2xx, 0)}`;
    console.log(row('direct', direct));
    console.log(row('mantou', proxied));
    const ratio = median(proxied.map((r) => r.rps)) / median(direct.map((r) => r.rps));
    console.log(`throughput ratio mantou/direct: ${ratio.toFixed(2)} (the load generator shares CPU 0 with the upstream: see CPU per request)`);
    console.log(`mantou CPU per request: ${median(cpuPerRequest).toFixed(1)} µs (user+system, median of ${ROUNDS} rounds)`);
    const d50 = median(probeDirect);
    const m50 = median(probeProxy);
    const d99 = pct(probeDirect, 0.99);
    const m99 = pct(probeProxy, 0.99);
    console.log(
      `sequential round trip (${PROBE_REQUESTS} requests, one connection): direct p50 ${d50.toFixed(1)} µs p99 ${d99.toFixed(1)} µs; mantou p50 ${m50.toFixed(1)} µs p99 ${m99.toFixed(1)} µs`,
    );
    console.log(`added per-hop latency: p50 ${(m50 - d50).toFixed(1)} µs, p99 ${(m99 - d99).toFixed(1)} µs`);
  } finally {
    stopAll();
  }
}

await main();
