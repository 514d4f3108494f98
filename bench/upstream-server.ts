// The benchmark upstream: fixed responses from uWebSockets.js, cheap enough never to be the bottleneck.
// GET /size/N answers N bytes (default: 13); request bodies are read to the end before answering.
// Usage: node bench/upstream-server.ts [--port N]; prints `listening <port>` when ready.

import * as uws from 'uWebSockets.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
(uws as unknown as { _cfg(k: string): void })._cfg('silent');

const SMALL = Buffer.from('hello, world\n');
const bodies = new Map<number, Buffer>();
function bodyOf(url: string): Buffer {
  if (!url.startsWith('/size/')) return SMALL;
  const n = Number(url.slice(6));
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
    res.writeStatus('200 OK').writeHeader('content-type', 'application/octet-stream').end(body);
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
