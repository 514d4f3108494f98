// The benchmark upstream: a fixed response from uWebSockets.js, cheap enough never to be the bottleneck.
// Usage: node bench/upstream-server.ts [--port N] [--size BYTES]; prints `listening <port>` when ready.

import * as uws from 'uWebSockets.js';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, size: { type: 'string', default: '13' } } });
const body = Buffer.alloc(Number(values.size), 0x78);
(uws as unknown as { _cfg(k: string): void })._cfg('silent');

const app = uws.App();
app.any('/*', (res) => {
  // The whole answer is written synchronously inside the handler: no onAborted is needed (DESIGN.md §4).
  res.writeStatus('200 OK').writeHeader('content-type', 'text/plain').end(body);
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
