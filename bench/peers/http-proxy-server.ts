// The `http-proxy` peer: node:http server + http-proxy with a keep-alive agent.
// Usage: node bench/peers/http-proxy-server.ts --port P --upstream U; prints `listening P`.

import http from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${values.upstream}`, agent });
proxy.on('error', (_err, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(Number(values.port), '127.0.0.1', () => process.stdout.write(`listening ${values.port}\n`));
