// One scenario per question. Rates are requests per second for the open-loop latency runs; throughput runs
// go as fast as the server answers. 1 MiB responses use lower rates: at 5,000/s they would need 5 GB/s of
// loopback bandwidth through two hops, which measures the machine, not the proxy.

import { CHUNK_TRAILER_CRLF, encodeChunkHeader, LAST_CHUNK } from '../core/upstream/request-encoder.ts';

export interface Scenario {
  name: string;
  question: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The body goes chunked, in chunks of this many bytes (Transfer-Encoding: chunked instead of Content-Length). */
  chunkBytes?: number;
  newConnection: boolean;
  rates: number[];
  connections: number;
  /** Measured only when named in `--scenarios` (the default run stays within its 15 minutes). */
  optIn?: boolean;
  /**
   * At least this many latency rounds per cell (not with `--quick`): the cells the targets are read from get a
   * median of more rounds, since their p99s are this VM's noise as much as the proxy's.
   */
  latencyRounds?: number;
  /**
   * At least this many throughput rounds per candidate (not with `--quick`): a round is one second, and two noisy
   * seconds out of three decided a median (docs/performance-log.md, 1st December 04:34).
   */
  throughputRounds?: number;
}

const forty: Record<string, string> = {};
for (let i = 0; i < 40; i++) forty[`x-bench-header-${String(i).padStart(2, '0')}`] = `value-${i}-${'v'.repeat(16)}`;

export const scenarios: Scenario[] = [
  {
    name: 'small-get',
    question: 'What does one hop cost for a small GET on keep-alive connections?',
    method: 'GET',
    path: '/size/13',
    headers: {},
    newConnection: false,
    rates: [1000, 5000],
    connections: 50,
    latencyRounds: 7,
    throughputRounds: 5,
  },
  {
    name: 'get-64k',
    question: 'How fast are 64 KiB responses streamed?',
    method: 'GET',
    path: '/size/65536',
    headers: {},
    newConnection: false,
    rates: [1000, 5000],
    connections: 50,
  },
  {
    name: 'get-1m',
    question: 'How fast are 1 MiB responses streamed?',
    method: 'GET',
    path: '/size/1048576',
    headers: {},
    newConnection: false,
    rates: [200, 1000],
    connections: 50,
  },
  {
    name: 'get-1m-chunked',
    question: 'How fast are 1 MiB responses without a Content-Length (chunked) streamed?',
    method: 'GET',
    path: '/chunked/1048576',
    headers: {},
    newConnection: false,
    rates: [200, 1000],
    connections: 50,
    // Opt in since 2026-12-02 19:00: not one of the questions, and 100 s of a default run whose planned
    // work had grown to 841 s of its 15 minutes (bench/run-budget.ts).
    optIn: true,
  },
  {
    name: 'post-64k',
    question: 'How fast are 64 KiB uploads forwarded?',
    method: 'POST',
    path: '/size/13',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(65536, 0x70),
    newConnection: false,
    rates: [1000, 5000],
    connections: 50,
  },
  {
    name: 'post-64k-chunked',
    question: 'How fast are 64 KiB chunked uploads (four 16 KiB chunks, as a streaming client sends them) forwarded?',
    method: 'POST',
    path: '/size/13',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.alloc(65536, 0x70),
    chunkBytes: 16384,
    newConnection: false,
    rates: [1000, 5000],
    connections: 50,
    optIn: true,
  },
  {
    name: 'new-connection',
    question: 'What does a new client connection per request cost?',
    method: 'GET',
    path: '/size/13',
    headers: { connection: 'close' },
    newConnection: true,
    rates: [1000, 5000],
    connections: 50,
  },
  {
    name: 'headers-40',
    question: 'What do 40 request headers cost?',
    method: 'GET',
    path: '/size/13',
    headers: forty,
    newConnection: false,
    rates: [1000, 5000],
    connections: 50,
  },
];

export function requestBytes(s: Scenario): Buffer {
  let head = `${s.method} ${s.path} HTTP/1.1\r\nhost: bench\r\n`;
  for (const [k, v] of Object.entries(s.headers)) head += `${k}: ${v}\r\n`;
  if (s.body !== undefined) head += s.chunkBytes === undefined ? `content-length: ${s.body.length}\r\n` : 'transfer-encoding: chunked\r\n';
  head += '\r\n';
  if (s.body === undefined) return Buffer.from(head, 'latin1');
  return Buffer.concat([Buffer.from(head, 'latin1'), s.chunkBytes === undefined ? s.body : chunkedBody(s.body, s.chunkBytes)]);
}

/** `body` framed in chunks of `size` bytes, then the last chunk (the framing the proxy itself sends upstream). */
export function chunkedBody(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(encodeChunkHeader(piece.length), piece, CHUNK_TRAILER_CRLF);
  }
  parts.push(LAST_CHUNK);
  return Buffer.concat(parts);
}
