// `npm run bench:offload`: does offloading keep ordinary requests fast while large bodies are scanned? One
// Mantou worker (pinned to CPU 1) with `body-scan` on /scan. The p99 of small GETs at 1,000 req/s (open-loop)
// is measured without and then with a background load of 1 MiB uploads being scanned, in alternating rounds.
// The offload pool's thread is not pinned: on two cores it competes with the load generator, as it would with
// anything else on a real host. Target: p99 with scanning within 20% of p99 without.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTaskset, LOAD_CPU, PROXY_CPU, spawnUntil } from './candidates.ts';
import { openLoop } from './open-loop.ts';

const ROUNDS = 5;
/** `-- --pin`: the whole proxy (worker and offload thread) on CPU 1. */
const PIN_PROXY = process.argv.includes('--pin');
const LATENCY_MS = 3000;
const UPLOADS_PER_S = 10;
/** Text-like bytes, so the patterns below have work to do (about 30 ms of regex per upload here). */
const UPLOAD = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit; '.repeat(18_400).slice(0, 1024 * 1024));
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

function upload(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': UPLOAD.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(UPLOAD);
  });
}

/** UPLOADS_PER_S uploads a second (each waits for the one before) until `stop()`; counts the 200s. */
function uploadLoad(port: number, path: string): { stop(): Promise<{ scanned: number; other: number }> } {
  let running = true;
  let scanned = 0;
  let other = 0;
  const loop = async () => {
    while (running) {
      const next = performance.now() + 1000 / UPLOADS_PER_S;
      (await upload(port, path)) === 200 ? scanned++ : other++;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const loops = [loop()];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { scanned, other };
    },
  };
}

async function p99(port: number): Promise<number> {
  const r = await openLoop({ port, rate: 1000, durationMs: LATENCY_MS, connections: 50, request: SMALL, newConnection: false });
  const v = r.histogram.getValueAtPercentile(99);
  r.histogram.destroy();
  return v;
}

async function main(): Promise<void> {
  const upstream = await spawnUntil(['bench/upstream-server.ts'], /listening (\d+)/, hasTaskset ? LOAD_CPU : undefined);
  const dir = mkdtempSync(join(tmpdir(), 'mantou-bench-offload-'));
  const file = join(dir, 'offload.yaml');
  writeFileSync(
    file,
    `workers: 1\nadmin: { port: 0 }\nlisteners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n    filters: [{ name: body-scan, config: { patterns: [${PATTERNS}], maxBytes: 2097152, timeoutMs: 5000 } }]\n    routes:\n      - { match: { path: { prefix: /scan-inline } }, cluster: up, filters: { body-scan: { config: { patterns: [${PATTERNS}], maxBytes: 2097152, offload: false } } } }\n      - { match: { path: { prefix: /scan } }, cluster: up }\n      - { match: { path: { prefix: /upload } }, cluster: up, filters: { body-scan: { disabled: true } } }\n      - { cluster: up, filters: { body-scan: { disabled: true } } }\nclusters:\n  - name: up\n    endpoints: [{ address: 127.0.0.1, port: ${upstream.match[1]} }]\n`,
  );
  let proxy: Awaited<ReturnType<typeof spawnUntil>> | null = null;
  try {
    // The proxy may use both cores: the offload pool's thread needs a core of its own to keep the scans off the
    // worker's, which is the point (pinned to one core, the two threads time-share it and p99 is the scheduler's).
    proxy = await spawnUntil(['core/cli.ts', 'run', '-c', file], /"ports":\{"bench":(\d+)\}/, PIN_PROXY && hasTaskset ? PROXY_CPU : undefined);
    proxy.child.stdout?.resume();
    const port = Number(proxy.match[1]);
    // Warm-up: JIT, pools and the offload thread.
    await p99(port);
    for (let i = 0; i < 5; i++) await upload(port, '/scan');
    const quiet: number[] = [];
    const forwarded: number[] = [];
    const busy: number[] = [];
    const inline: number[] = [];
    let scanned = 0;
    let failed = 0;
    const under = async (path: string, into: number[]) => {
      const load = uploadLoad(port, path);
      into.push(await p99(port));
      const r = await load.stop();
      if (path === '/scan') scanned += r.scanned;
      failed += r.other;
    };
    for (let round = 0; round < ROUNDS; round++) {
      quiet.push(await p99(port));
      await under('/upload', forwarded);
      await under('/scan', busy);
      await under('/scan-inline', inline);
    }
    const q = median(quiet);
    const f = median(forwarded);
    const b = median(busy);
    const n = median(inline);
    console.log(`small GETs at 1,000 req/s, open-loop ${LATENCY_MS} ms × ${ROUNDS} alternating rounds; medians`);
    console.log(`p99 alone: ${q} µs [${quiet.join(', ')}]`);
    console.log(`p99 beside ${UPLOADS_PER_S} uploads of 1 MiB a second, forwarded unscanned: ${f} µs [${forwarded.join(', ')}]`);
    console.log(`p99 beside the same uploads scanned in the offload pool (${scanned} scanned, ${failed} not 200): ${b} µs [${busy.join(', ')}]`);
    console.log(`p99 beside the same uploads scanned on the worker's own event loop (offload: false): ${n} µs [${inline.join(', ')}]`);
    console.log(`scanning vs forwarding the same uploads: ${(b / f).toFixed(2)}; vs no uploads: ${(b / q).toFixed(2)} (target ≤ 1.20)`);
  } finally {
    proxy?.child.kill('SIGTERM');
    upstream.child.kill('SIGTERM');
  }
}

await main();
