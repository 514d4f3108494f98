// The background load of bench/offload.ts, in a process of its own so that writing megabytes never stalls the
// latency probe's event loop (in one process, the probe's p99 measured the client as much as the proxy):
//   upload-load.ts --port P --path /scan --per-second 10 --ms 3500
// POSTs 1 MiB of text-like bytes to P at that rate (each waits for the one before) for that long, then prints
// {"ok": N, "other": M} (status 200 and anything else) and exits.

import { request } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, path: { type: 'string' }, 'per-second': { type: 'string' }, ms: { type: 'string' } },
});
const port = Number(values.port);
const path = values.path ?? '/upload';
const perSecond = Number(values['per-second'] ?? 10);
const until = performance.now() + Number(values.ms ?? 3000);
/** Text-like bytes, so a body scanner's patterns have work to do. */
const UPLOAD = Buffer.from('lorem ipsum dolor sit amet, consectetur adipiscing elit; '.repeat(18_400).slice(0, 1024 * 1024));

function upload(): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-length': UPLOAD.length } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(UPLOAD);
  });
}

let ok = 0;
let other = 0;
while (performance.now() < until) {
  const next = performance.now() + 1000 / perSecond;
  (await upload()) === 200 ? ok++ : other++;
  const wait = next - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
console.log(JSON.stringify({ ok, other }));
