// `npm run bench:offload`: does offloading keep ordinary requests fast while large bodies are scanned? One
// Mantou worker with `body-scan` on /scan. The p99 of small GETs at 1,000 req/s (open-loop) is measured without
// and then with a background load of 1 MiB uploads (sent straight to their upstream, bypassing the proxy;
// forwarded unscanned; scanned in the offload pool; scanned on the worker's own event loop), in alternating
// rounds. Target: p99 with scanning within 20% of p99 without. The bypass row is the upload peers' own cost on
// the proxy's core: what of the rise is not the proxy's doing. The body-blind row sends the same uploads through a
// filter that never looks at the body (`headers`, a response header) on a second listener of the same worker on
// the net engine, as every filtered route was served until 2026-11-30 evening, so what it costs beside the
// forwarded row is the net engine's. Since then a route whose filters the native engine can run (body-scan) is
// served natively, the body gathered in C (core/http/native-filtered.ts): the scanned row against the body-blind
// one is what that saves. (Until 2026-12-01 the blind route was on the bench listener: a response filter sent it
// to the net engine then; now `headers` runs natively too.)
// When nginx is installed it runs beside, on the proxy's core with the same routes unscanned, measured alone and beside the same uploads in the same rounds: what
// forwarding them costs a C proxy's small GETs.
//
// Placement (two cores): the latency probe and the small GETs' upstream have CPU 0 to themselves; the proxy — its
// worker and its offload thread — runs on CPU 1, so the scans compete with the very event loop they must not slow.
// The uploads come from a process of their own (bench/peers/upload-load.ts) and go to an upstream of their own,
// both on CPU 1 under SCHED_IDLE: they take only time the proxy leaves, and nothing of theirs runs beside the probe
// (on a real host they are other machines). What changes between conditions is then the proxy's work, and the
// control row (the GETs straight to their upstream, beside the scanned uploads) shows the probe's core stays quiet.
// `-- --shared` puts the upload peers on CPU 0 at normal priority instead, as earlier runs did. `-- --rounds N`
// measures N alternating rounds instead of 5.
//
// The interleaved rows (bench/interleaved.ts) measure the same two conditions inside one probe instead: the
// uploads switch on and off every INTERLEAVE_WINDOW_MS, and the GETs due while they were on are compared with
// those due while they were off, so that both sides meet the same moments of the VM.

import { type ChildProcess, execFile, execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type * as hdr from 'hdr-histogram-js';
import {
  benchTempDir,
  freePort,
  hasTaskset,
  LOAD_CPU,
  mantouArgs,
  onPath,
  PROXY_CPU,
  pinnedSpawn,
  pinSelfToLoadCpu,
  roundsArg,
  spawnUntil,
  stopOnSignal,
  stopper,
  template,
  waitForPort,
} from './candidates.ts';
import { splitByWindows } from './interleaved.ts';
import { latencyHistogram, MAX_REMEASURES, openLoop } from './open-loop.ts';
import { slowedByLoad } from './slowed-by-load.ts';
import { startBenchUpstream } from './upstream.ts';
import { measureWakeFloor, wakeFloorLogLine } from './wake-floor.ts';

/**
 * Alternating rounds measured (`-- --rounds N`, default 5), after one more that warms up (JIT, pools, the
 * offload thread) and is dropped. A p99 over 3,000 requests is the 30th slowest: one burst of this VM's noise
 * decides a round, so more rounds give a median a burst cannot move.
 */
const ROUNDS = roundsArg(5);
/** `-- --shared`: the upload peers on the probe's core at normal priority. */
const SHARED = process.argv.includes('--shared');
const UPLOAD_CPU = SHARED ? LOAD_CPU : PROXY_CPU;
/** The upload peers' command prefix: SCHED_IDLE (util-linux chrt) unless --shared. */
const UPLOAD_PREFIX = SHARED ? [] : ['chrt', '--idle', '0'];
/** `-- --engine net|uws`: the listener's engine (default: the listener default). */
const ENGINE = process.argv[process.argv.indexOf('--engine') + 1];
const ENGINE_LINE = process.argv.includes('--engine') ? `    engine: ${ENGINE}\n` : '';
/**
 * The upload client writes each body 64 KiB a system call (bench/peers/upload-load.ts --chunk): one 1 MiB write on
 * the proxy's core held the proxy's thread off it for 0.2-0.3 ms once per upload (perf sched), which the scanned
 * row paid most (the proxy gathers the body as fast as it comes, so the client's writes were the largest): 536 →
 * 409 µs in one run, forwarded and bypassing unchanged. `-- --whole-writes` writes each body in one call, as runs
 * before 2026-11-30 21:10 did.
 */
const UPLOAD_WRITES = process.argv.includes('--whole-writes') ? [] : ['--chunk', String(64 * 1024)];
const LATENCY_MS = 3000;
/** The interleaved rows' probe: twice a round's, so that each side has about as many GETs as a round. */
const INTERLEAVED_MS = 2 * LATENCY_MS;
/**
 * The interleaved rows' windows: five uploads in each loaded one (UPLOADS_PER_S), each upload some tens of
 * milliseconds, so what spills into a quiet window is little; and short beside the VM's slower swings.
 */
const INTERLEAVE_WINDOW_MS = 500;
/** The upload load starts this long before the probe and runs this long after it. */
const LOAD_MARGIN_MS = 300;
const UPLOADS_PER_S = 10;
/** Patterns a request-body firewall might use: each is a linear scan, together tens of milliseconds per MiB. */
const PATTERNS = [
  'secret-token-[0-9a-f]{16}',
  'drop\\s+table',
  '<script[^>]*>',
  'union\\s+select',
  '\\.\\./\\.\\./',
  '(?:eval|exec)\\s*\\(',
  '\\$\\{jndi:',
  'onerror\\s*=',
]
  .map((p) => JSON.stringify(p))
  .join(', ');
const SMALL = Buffer.from('GET /size/13 HTTP/1.1\r\nhost: bench\r\n\r\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The upload load running now, if any: an interruption stops it with the rest. */
let uploadLoad: ChildProcess | null = null;

/** What a started upload load is stopped with: it ends after the upload in flight and resolves with its counts. */
interface UploadLoad {
  stop(): Promise<UploadCounts>;
}

/**
 * What the upload client prints: uploads answered 200 and not, each one's start and end (ms since the epoch), and
 * with --window-ms each loaded window's.
 */
interface UploadCounts {
  ok: number;
  other: number;
  spans: number[];
  windows?: number[];
}

/**
 * Starts the upload load (placed as above). It runs until stopped, bounded by the longest a probe can take: a
 * round the generator re-measures after its own major GC (open-loop.ts) must be measured beside the uploads too,
 * which a load of fixed length did not ensure (until 2026-12-01, such a round ran partly or wholly without them).
 */
function uploads(port: number, path: string, windowMs = 0, probeMs = LATENCY_MS): UploadLoad {
  const ms = (MAX_REMEASURES + 1) * (probeMs + LOAD_MARGIN_MS) + 2 * LOAD_MARGIN_MS;
  const args = [
    'bench/peers/upload-load.ts',
    '--port',
    String(port),
    '--path',
    path,
    '--per-second',
    String(UPLOADS_PER_S),
    '--ms',
    String(ms),
    ...(windowMs > 0 ? ['--window-ms', String(windowMs)] : []),
    ...UPLOAD_WRITES,
  ];
  const [cmd, argv] = hasTaskset ? ['taskset', ['-c', UPLOAD_CPU, ...UPLOAD_PREFIX, process.execPath, ...args]] : [process.execPath, args];
  const running = promisify(execFile)(cmd, argv, { encoding: 'utf8' });
  uploadLoad = running.child;
  return {
    async stop() {
      running.child.kill('SIGTERM');
      const { stdout } = await running;
      uploadLoad = null;
      return JSON.parse(stdout.trim()) as UploadCounts;
    },
  };
}

/**
 * Past this, a row that should not move did: the uploads bypassing the proxy (only the upload peers' own work on
 * the proxy's core) or the control (the GETs straight to their upstream). Quiet runs of this VM stay at 0.7–1.25×.
 */
const DISTURBED_RATIO = 1.3;

/** Why the run's conditions were not steady enough to read its ratios, or null when they were. */
function disturbance(bypassRatio: number, controlRatio: number): string | null {
  const why: string[] = [];
  if (bypassRatio > DISTURBED_RATIO) why.push(`the uploads bypassing the proxy raised the p99 ${bypassRatio.toFixed(2)}×`);
  if (controlRatio > DISTURBED_RATIO) why.push(`the control rose ${controlRatio.toFixed(2)}×`);
  return why.length === 0 ? null : `${why.join(' and ')} (more than ${DISTURBED_RATIO}×)`;
}

/** Probe rounds measured again because the generator ran a major GC inside them (reported with the results). */
let remeasured = 0;

/**
 * Every GET of a row's rounds in one histogram: its p99 is the 1% slowest of all of them (some 27,000 in nine
 * rounds), where the row's median p99 is the middle of nine 3-second rounds' 30th slowest. A stall of the VM moves
 * the two differently: it decides the round it falls in, and is one of many in the pool. Both are reported.
 */
const pooled = new Map<number[], hdr.Histogram>();

/** Measures a round of `into`'s row and adds its p99 (µs); `samples`, when given, receives each request (open-loop.ts). */
async function p99(port: number, into: number[], samples?: number[]): Promise<void> {
  const r = await openLoop({ port, rate: 1000, durationMs: LATENCY_MS, connections: 50, request: SMALL, newConnection: false, samples });
  remeasured += r.remeasured;
  into.push(r.histogram.getValueAtPercentile(99));
  let pool = pooled.get(into);
  if (pool === undefined) pooled.set(into, (pool = latencyHistogram()));
  pool.add(r.histogram);
  r.histogram.destroy();
}

/** The pooled p99 of a row (µs). */
const pooledP99 = (row: number[]) => pooled.get(row)?.getValueAtPercentile(99) ?? 0;

/** An interleaved row: each round's p99 of the GETs due while the uploads were on and while they were off. */
interface InterleavedRow {
  loaded: number[];
  quiet: number[];
  /** Every round's GETs of each side, for the pooled p99s. */
  allLoaded: hdr.Histogram;
  allQuiet: hdr.Histogram;
  /** GETs left out as neither (bench/interleaved.ts), and GETs in all. */
  leftOut: number;
  total: number;
}

const interleavedRow = (): InterleavedRow => ({
  loaded: [],
  quiet: [],
  allLoaded: latencyHistogram(),
  allQuiet: latencyHistogram(),
  leftOut: 0,
  total: 0,
});

/** The p99 (µs) of latencies, recorded into `pool` too. */
function p99Of(latencies: number[], pool: hdr.Histogram): number {
  const h = latencyHistogram();
  for (const us of latencies) {
    h.recordValue(us);
    pool.recordValue(us);
  }
  const v = h.getValueAtPercentile(99);
  h.destroy();
  return v;
}

/** Medians of the per-round ratios and the pooled ratio of an interleaved row, in a line. */
function describeInterleaved(row: InterleavedRow): string {
  const ratios = row.loaded.map((l, i) => l / (row.quiet[i] as number));
  const pooledLoaded = row.allLoaded.getValueAtPercentile(99);
  const pooledQuiet = row.allQuiet.getValueAtPercentile(99);
  return (
    `p99 ${median(row.loaded)} µs on [${row.loaded.join(', ')}], ${median(row.quiet)} µs off [${row.quiet.join(', ')}]; ` +
    `the rounds' ratios ${ratios.map((r) => r.toFixed(2)).join(', ')}: median ${median(ratios).toFixed(2)}; ` +
    `pooled ${pooledLoaded} against ${pooledQuiet} µs: ${(pooledLoaded / pooledQuiet).toFixed(2)} ` +
    `(${row.leftOut} of ${row.total} GETs left out, due off while an upload was ending)`
  );
}

async function main(): Promise<void> {
  // The probe (openLoop, in this process) belongs on CPU 0 with the GETs' upstream, not beside the proxy.
  pinSelfToLoadCpu();
  const floor = hasTaskset ? measureWakeFloor(LOAD_CPU, PROXY_CPU) : null;
  const pinned = hasTaskset ? LOAD_CPU : undefined;
  const upstream = await startBenchUpstream(pinned);
  const bulkUpstream = await startBenchUpstream(hasTaskset ? UPLOAD_CPU : undefined);
  // chrt comes with taskset (util-linux).
  if (!SHARED && hasTaskset) execFileSync('chrt', ['--all-tasks', '--idle', '-p', '0', String(bulkUpstream.pid)]);
  const dir = benchTempDir('offload');
  const file = join(dir, 'offload.yaml');
  writeFileSync(
    file,
    `workers: 1\nadmin: { port: 0 }\nlisteners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n${ENGINE_LINE}    filters: [{ name: body-scan, config: { patterns: [${PATTERNS}], maxBytes: 2097152, timeoutMs: 5000 } }]\n    routes:\n      - { match: { path: { prefix: /scan-inline } }, cluster: bulk, filters: { body-scan: { config: { patterns: [${PATTERNS}], maxBytes: 2097152, offload: false } } } }\n      - { match: { path: { prefix: /scan } }, cluster: bulk }\n      - { match: { path: { prefix: /upload } }, cluster: bulk, filters: { body-scan: { disabled: true } } }\n      - { cluster: up, filters: { body-scan: { disabled: true } } }\n  - name: blind\n    address: 127.0.0.1\n    port: 0\n    engine: net\n    filters: [{ name: headers, config: { response: { set: { x-upload: blind } } } }]\n    routes:\n      - { cluster: bulk }\nclusters:\n  - name: up\n    endpoints: [{ address: 127.0.0.1, port: ${upstream.port} }]\n  - name: bulk\n    endpoints: [{ address: 127.0.0.1, port: ${bulkUpstream.port} }]\n`,
  );
  let proxy: Awaited<ReturnType<typeof spawnUntil>> | null = null;
  let nginx: ChildProcess | null = null;
  const stopAll = () => {
    uploadLoad?.kill('SIGTERM');
    proxy?.child.kill('SIGTERM');
    if (nginx !== null) void stopper(nginx)();
    upstream.stop();
    bulkUpstream.stop();
  };
  stopOnSignal(stopAll);
  try {
    proxy = await spawnUntil(mantouArgs(file), /"ports":\{"bench":(\d+),"blind":(\d+)\}/, hasTaskset ? PROXY_CPU : undefined);
    proxy.child.stdout?.resume();
    const port = Number(proxy.match[1]);
    const blindPort = Number(proxy.match[2]);
    // nginx, when installed, on the proxy's core with the same routes (unscanned): what forwarding the same
    // uploads costs a C proxy's small GETs, measured in the same rounds.
    let nginxPort = 0;
    if (onPath('nginx')) {
      nginxPort = await freePort();
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, template('nginx-offload.conf', { DIR: dir, PORT: nginxPort, UPSTREAM: upstream.port, BULK: bulkUpstream.port }));
      nginx = pinnedSpawn(PROXY_CPU, 'nginx', ['-c', conf, '-p', dir]);
      await waitForPort(nginxPort, nginx, 'nginx');
    }
    const nginxQuiet: number[] = [];
    const nginxForwarded: number[] = [];
    const quiet: number[] = [];
    const forwarded: number[] = [];
    const blind: number[] = [];
    const busy: number[] = [];
    const inline: number[] = [];
    const bypassing: number[] = [];
    let scanned = 0;
    let failed = 0;
    const directQuiet: number[] = [];
    const directBusy: number[] = [];
    const interleavedScan = interleavedRow();
    const interleavedForward = interleavedRow();
    const upstreamPort = upstream.port;
    /**
     * GETs each condition's uploads slowed, per 1,000, a value a round (slowed-by-load.ts): slower than the same
     * round's p99 alone, due while an upload was in flight, beyond chance. Unlike the p99, this leaves out the
     * VM's stalls that fell outside the uploads.
     */
    const slowed = new Map<number[], number[]>();
    /** The last p99 alone of the GETs' target: what counts as slow in this round. */
    const aloneOf = (probe: number) => (probe === nginxPort ? nginxQuiet : probe === upstreamPort ? directQuiet : quiet).at(-1) ?? 0;
    /** `probe`: where the small GETs go (the proxy; or their upstream directly, the machine's own share). */
    const under = async (path: string, into: number[], probe = port, uploadPort = port) => {
      const load = uploads(uploadPort, path);
      const samples: number[] = [];
      await new Promise((r) => setTimeout(r, LOAD_MARGIN_MS));
      await p99(probe, into, samples);
      await new Promise((r) => setTimeout(r, LOAD_MARGIN_MS));
      const r = await load.stop();
      let perRound = slowed.get(into);
      if (perRound === undefined) slowed.set(into, (perRound = []));
      perRound.push(slowedByLoad(samples, r.spans, aloneOf(probe)).perThousand);
      if (path === '/scan') scanned += r.ok;
      failed += r.other;
    };
    /** One probe while `path`'s uploads switch on and off; each side's p99 goes to `row`. */
    const interleaved = async (path: string, row: InterleavedRow) => {
      const load = uploads(port, path, INTERLEAVE_WINDOW_MS, INTERLEAVED_MS);
      const samples: number[] = [];
      await new Promise((r) => setTimeout(r, LOAD_MARGIN_MS));
      const probe = await openLoop({ port, rate: 1000, durationMs: INTERLEAVED_MS, connections: 50, request: SMALL, newConnection: false, samples });
      remeasured += probe.remeasured;
      probe.histogram.destroy();
      const r = await load.stop();
      const split = splitByWindows(samples, r.windows ?? [], r.spans);
      row.loaded.push(p99Of(split.loaded, row.allLoaded));
      row.quiet.push(p99Of(split.quiet, row.allQuiet));
      row.leftOut += split.leftOut;
      row.total += samples.length / 2;
      if (path === '/scan') scanned += r.ok;
      failed += r.other;
    };
    for (let round = 0; round <= ROUNDS; round++) {
      if (round === 1) {
        // Round 0 was the warm-up: its values go.
        for (const xs of [quiet, bypassing, forwarded, blind, busy, inline, directQuiet, directBusy, nginxQuiet, nginxForwarded]) xs.length = 0;
        slowed.clear();
        for (const h of pooled.values()) h.destroy();
        pooled.clear();
        for (const row of [interleavedScan, interleavedForward]) {
          row.allLoaded.reset();
          row.allQuiet.reset();
          row.loaded.length = 0;
          row.quiet.length = 0;
          row.leftOut = 0;
          row.total = 0;
        }
        scanned = 0;
        failed = 0;
        remeasured = 0;
      }
      await p99(port, quiet);
      // The same uploads straight to their upstream: the upload peers' own work on the proxy's core, without
      // the proxy handling them.
      await under('/upload', bypassing, port, bulkUpstream.port);
      await under('/upload', forwarded);
      await under('/blind', blind, port, blindPort);
      await under('/scan', busy);
      await under('/scan-inline', inline);
      await interleaved('/scan', interleavedScan);
      await interleaved('/upload', interleavedForward);
      // Control: the same GETs straight to their upstream, without and beside the scanned uploads. What rises
      // here is the machine's, not the proxy's.
      await p99(upstreamPort, directQuiet);
      await under('/scan', directBusy, upstreamPort);
      if (nginxPort !== 0) {
        await p99(nginxPort, nginxQuiet);
        await under('/upload', nginxForwarded, nginxPort, nginxPort);
      }
    }
    const q = median(quiet);
    const p = median(bypassing);
    const f = median(forwarded);
    const w = median(blind);
    const b = median(busy);
    const n = median(inline);
    console.log(
      `small GETs at 1,000 req/s, open-loop ${LATENCY_MS} ms × ${ROUNDS} alternating rounds after a warm-up round; medians (${remeasured} probe round${remeasured === 1 ? '' : 's'} measured again after the generator's major GC)`,
    );
    console.log(
      SHARED
        ? `upload peers on CPU ${LOAD_CPU} beside the probe (--shared)`
        : `proxy and upload peers (SCHED_IDLE) on CPU ${PROXY_CPU}, probe on CPU ${LOAD_CPU}`,
    );
    if (floor !== null) console.log(wakeFloorLogLine('before', LOAD_CPU, PROXY_CPU, floor));
    console.log(`p99 alone: ${q} µs [${quiet.join(', ')}]`);
    console.log(
      `p99 beside ${UPLOADS_PER_S} uploads of 1 MiB a second sent straight to their upstream, bypassing the proxy: ${p} µs [${bypassing.join(', ')}]`,
    );
    console.log(`p99 beside the same uploads forwarded unscanned: ${f} µs [${forwarded.join(', ')}]`);
    console.log(`p99 beside the same uploads through a filter blind to the body (the net engine's share): ${w} µs [${blind.join(', ')}]`);
    console.log(`p99 beside the same uploads scanned in the offload pool (${scanned} scanned, ${failed} not 200): ${b} µs [${busy.join(', ')}]`);
    console.log(`p99 beside the same uploads scanned on the worker's own event loop (offload: false): ${n} µs [${inline.join(', ')}]`);
    console.log(
      `scanning vs no uploads: ${(b / q).toFixed(2)} (target ≤ 1.20); vs the uploads bypassing the proxy: ${(b / p).toFixed(2)}; vs forwarding them: ${(b / f).toFixed(2)}; vs the body-blind filter: ${(b / w).toFixed(2)}`,
    );
    if (nginxPort !== 0) {
      const nq = median(nginxQuiet);
      const nf = median(nginxForwarded);
      console.log(
        `nginx on the proxy's core, the same routes unscanned: p99 ${nq} µs alone [${nginxQuiet.join(', ')}], ${nf} µs beside the same uploads forwarded [${nginxForwarded.join(', ')}]: ${(nf / nq).toFixed(2)} (Mantou forwarding them: ${(f / q).toFixed(2)})`,
      );
    } else {
      console.log('nginx not installed (bench/setup-peers.sh): no nginx baseline');
    }
    console.log(
      `interleaved, the uploads on and off every ${INTERLEAVE_WINDOW_MS} ms within one ${INTERLEAVED_MS} ms probe a round, the GETs due while on against those due while off: scanned in the offload pool: ${describeInterleaved(interleavedScan)} (target ≤ 1.20)`,
    );
    console.log(`interleaved, the same uploads forwarded unscanned: ${describeInterleaved(interleavedForward)}`);
    const dq = median(directQuiet);
    const db = median(directBusy);
    console.log(
      `control, the GETs straight to their upstream: p99 ${dq} µs alone [${directQuiet.join(', ')}], ${db} µs beside the scanned uploads [${directBusy.join(', ')}]: ${(db / dq).toFixed(2)}`,
    );
    const perThousand = (xs: number[]) => {
      const v = slowed.get(xs);
      return v === undefined ? '—' : `${median(v).toFixed(1)} [${v.map((x) => x.toFixed(1)).join(', ')}]`;
    };
    console.log(
      `GETs the uploads slowed, per 1,000 (slower than the round's p99 alone, due while an upload was in flight, beyond chance; medians): bypassing ${perThousand(bypassing)}; forwarded ${perThousand(forwarded)}; body-blind ${perThousand(blind)}; scanned ${perThousand(busy)}; inline ${perThousand(inline)}${nginxPort !== 0 ? `; nginx forwarding ${perThousand(nginxForwarded)}` : ''}`,
    );
    const pq = pooledP99(quiet);
    const ratioOf = (row: number[], alone: number) => `${pooledP99(row)} µs (${(pooledP99(row) / alone).toFixed(2)})`;
    console.log(
      `p99 of each row's GETs pooled over its rounds: alone ${pq} µs; bypassing ${ratioOf(bypassing, pq)}; forwarded ${ratioOf(forwarded, pq)}; body-blind ${ratioOf(blind, pq)}; scanned ${ratioOf(busy, pq)} (target ≤ 1.20); inline ${ratioOf(inline, pq)}${nginxPort !== 0 ? `; nginx alone ${pooledP99(nginxQuiet)} µs, forwarding ${ratioOf(nginxForwarded, pooledP99(nginxQuiet))}` : ''}; control alone ${pooledP99(directQuiet)} µs, beside scanning ${ratioOf(directBusy, pooledP99(directQuiet))}`,
    );
    const disturbed = disturbance(p / q, db / dq);
    if (disturbed !== null) console.log(`DISTURBED RUN: ${disturbed}; the ratios above say more about this VM than about the proxy: run it again`);
  } finally {
    stopAll();
  }
}

await main();
