// The benchmark upstream: fixed responses from uWebSockets.js, cheap enough never to be the bottleneck.
// GET /size/N answers N bytes (default: 13), GET /chunked/N the same without a length (chunked); request bodies
// are read to the end before answering.
// Usage: node bench/upstream-server.ts [--port N]; prints `listening <port>` when ready.

import * as uws from 'uWebSockets.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
(uws as unknown as { _cfg(k: string): void })._cfg('silent');

const SMALL = Buffer.from('hello, world\n');
const bodies = new Map<number, Buffer>();
function bodyOf(url: string): Buffer {
  const sized = url.startsWith('/size/');
  if (!sized && !url.startsWith('/chunked/')) return SMALL;
  const n = Number(url.slice(sized ? 6 : 9));
  let b = bodies.get(n);
  if (b === undefined) {
    b = Buffer.alloc(n, 0x78);
    bodies.set(n, b);
  }
  return b;
}

const app = uws.App();
app.any('/*', (res, req) => {
  const body = bodyOf(req.getUrl());
  const hasBody = req.getHeader('content-length') !== '' || req.getHeader('transfer-encoding') !== '';
  if (!hasBody) {
    // Answered synchronously inside the handler: no onAborted needed (DESIGN.md §4).
    res.writeStatus('200 OK').writeHeader('content-type', 'application/octet-stream');
    // uWS closes after a request that asked to, without saying so: wrk would reuse the connection and count an
    // error per request (RFC 9112 §9.6 says to send the header).
    if (req.getHeader('connection') === 'close') res.writeHeader('connection', 'close');
    if (req.getUrl().startsWith('/chunked/')) {
      // uWS's overflow loss (core/http/uws-cork.ts) could hit this one write if the kernel refused the head; the
      // proxy would then answer 502, which the bench counts as an error: it cannot pass unnoticed.
      res.write(body);
      res.end();
    } else res.end(body);
    return;
  }
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  res.onData((_chunk, last) => {
    if (last && !aborted) res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/octet-stream').end(body));
  });
});
app.listen('127.0.0.1', Number(values.port), (token) => {
  if (!token) {
    process.stderr.write('cannot listen\n');
    process.exit(1);
  }
  process.stdout.write(`listening ${uws.us_socket_local_port(token)}\n`);
});
process.on('SIGTERM', () => {
  app.close();
  process.exit(0);
});
