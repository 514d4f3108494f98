// The background load of bench/offload.ts, in a process of its own so that writing megabytes never stalls the
// latency probe's event loop (in one process, the probe's p99 measured the client as much as the proxy):
//   upload-load.ts --port P --path /scan --per-second 10 --ms 3500 [--chunk 65536]
// POSTs 1 MiB of text-like bytes to P at that rate (each waits for the one before) for that long, then prints
// {"ok": N, "other": M, "spans": [start, end, ...]} (status 200 and anything else; when each upload started and its
// response ended, ms since the Unix epoch) and exits.
//
// --window-ms W alternates W ms of that load with W ms of none, starting with the load (an upload in flight when
// a window closes finishes; none starts until the next opens), and adds "windows": [start, end, ...] (each loaded
// window, ms since the Unix epoch) to what it prints: bench/offload.ts's interleaved rows tell the GETs due in
// each apart.
//
// --chunk N writes the body N bytes a system call, each after the one before was taken; without it the body goes
// to the socket in one write. On loopback a write runs the receiving side's TCP work inside the sender's system
// call, which the kernel does not preempt: one megabyte in one write was up to 0.3 ms of this process's kernel time,
// and where it shares the proxy's core (bench/offload.ts) the proxy's thread waited behind it once per upload
// (`perf sched timehist`: scheduling delays of 0.2-0.3 ms, 45 of 48 behind this process). A client on a network
// delivers its body a packet at a time; N bytes a write is nearer to that.

import { request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    path: { type: 'string' },
    'per-second': { type: 'string' },
    ms: { type: 'string' },
    chunk: { type: 'string' },
    'window-ms': { type: 'string' },
  },
});
const port = Number(values.port);
const path = values.path ?? '/upload';
const perSecond = Number(values['per-second'] ?? 10);
const CHUNK = Number(values.chunk ?? Number.MAX_SAFE_INTEGER);
const until = performance.now() + Number(values.ms ?? 3000);
/** Loaded and quiet windows of this length in turn (0: loaded throughout). */
const WINDOW_MS = Number(values['window-ms'] ?? 0);
/** Text-like bytes, so a body scanner's patterns have work to do. */
const UPLOAD = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit; '.repeat(18_400).slice(0, 1024 * 1024));

/** Each upload's start and end, ms since the Unix epoch (bench/offload.ts counts the slow GETs that fall inside). */
const spans: number[] = [];
const epochNow = (): number => performance.timeOrigin + performance.now();

function upload(): Promise<number> {
  const startedAt = epochNow();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': UPLOAD.length } }, (res) => {
      res.resume();
      res.on('end', () => {
        spans.push(startedAt, epochNow());
        resolve(res.statusCode ?? 0);
      });
    });
    req.on('error', () => resolve(0));
    if (CHUNK >= UPLOAD.length) {
      req.end(UPLOAD);
      return;
    }
    let at = 0;
    const next = (): void => {
      const piece = UPLOAD.subarray(at, at + CHUNK);
      at += piece.length;
      if (at >= UPLOAD.length) req.end(piece);
      else req.write(piece, next);
    };
    next();
  });
}

let ok = 0;
let other = 0;
// SIGTERM ends the load after the upload in flight, counts printed as at the end of --ms: bench/offload.ts stops it
// once its probe is done, however long that took (a probe round re-measured after the generator's GC included).
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each loaded window's start and end (--window-ms), ms since the Unix epoch. */
const windows: number[] = [];
const startedAt = performance.now();
while (!stopping && performance.now() < until) {
  const now = performance.now();
  if (WINDOW_MS > 0) {
    const k = Math.floor((now - startedAt) / WINDOW_MS);
    if (k % 2 === 1) {
      // A quiet window: wait for the next loaded one.
      await sleep(startedAt + (k + 1) * WINDOW_MS - now);
      continue;
    }
    const from = performance.timeOrigin + startedAt + k * WINDOW_MS;
    if (windows.at(-2) !== from) windows.push(from, from + WINDOW_MS);
  }
  const next = now + 1000 / perSecond;
  (await upload()) === 200 ? ok++ : other++;
  const wait = next - performance.now();
  if (wait > 0) await sleep(wait);
}
console.log(JSON.stringify(WINDOW_MS > 0 ? { ok, other, spans, windows } : { ok, other, spans }));
