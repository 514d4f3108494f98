// The fastify peer: fastify + @fastify/http-proxy (undici, keep-alive by default).
// Usage: node bench/peers/fastify-proxy-server.ts --port P --upstream U; prints `listening P`.

import { parseArgs } from 'node:util';
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';

const { values } = parseArgs({ options: { port: { type: 'string' }, upstream: { type: 'string' } } });
const app = Fastify({ logger: false, bodyLimit: 64 * 1024 * 1024 });
await app.register(proxy, { upstream: `http://127.0.0.1:${values.upstream}` });
await app.listen({ port: Number(values.port), host: '127.0.0.1' });
process.stdout.write(`listening ${values.port}\n`);
