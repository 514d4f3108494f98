// Upstream servers for integration tests: a real node:http echo server, and a raw TCP server that answers each
// request with scripted bytes (malformed, slow, reset) and records what it received.

import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

export interface EchoReply {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

export interface Server {
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A real HTTP/1.1 server. GET /bytes/N answers N bytes (Content-Length), /chunked/N the same chunked (1 MB
 * chunks), /mixed/N the same in chunks of mixed sizes (3 B to 64 KiB, so one proxy read holds several),
 * /status/S answers status S (`?bighead=N` adds N bytes of fields to these), anything else echoes the request as JSON (body hashed, not stored).
 */
export async function startEchoServer(): Promise<Server & { server: http.Server }> {
  let connections = 0;
  // Byte k of every /bytes and /chunked body is k % 251: a prime period never lines up with read buffers, so a
  // proxy that reuses or reorders buffers is caught by `isPatternBody`.
  const block = Buffer.alloc(251 * 4177);
  for (let i = 0; i < block.length; i++) block[i] = i % 251;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/(bytes|chunked|mixed)\/(\d+)$/.exec(url.pathname);
    if (m) {
      const total = Number(m[2]);
      if (m[1] === 'bytes') res.setHeader('content-length', total);
      setBigHead(res, url);
      res.setHeader('content-type', 'application/octet-stream');
      const sizes = m[1] === 'mixed' ? MIXED_CHUNK_SIZES : null;
      let sent = 0;
      let turn = 0;
      const pump = () => {
        while (sent < total) {
          // Mixed sizes are multiples of 251 or not; slices start at sent % 251 so the pattern continues.
          const want = sizes === null ? block.length : (sizes[turn++ % sizes.length] as number);
          const from = sent % 251;
          const n = Math.min(want, total - sent, block.length - from);
          sent += n;
          if (!res.write(n === block.length ? block : block.subarray(from, from + n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      req.resume();
      req.on('end', pump);
      return;
    }
    const s = /^\/status\/(\d{3})$/.exec(url.pathname);
    if (s) {
      req.resume();
      res.statusCode = Number(s[1]);
      setBigHead(res, url);
      res.setHeader('etag', '"v1"');
      res.end(req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304 ? undefined : 'status body');
      return;
    }
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      bytes += d.length;
      hash.update(d);
    });
    req.on('end', () => {
      const reply: EchoReply = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes: bytes,
        bodySha256: hash.digest('hex'),
      };
      const body = JSON.stringify(reply);
      res.setHeader('content-type', 'application/json');
      res.setHeader('connection-token', 'should-be-stripped');
      res.setHeader('connection', 'keep-alive, connection-token');
      res.setHeader('x-upstream', 'echo');
      if (req.method === 'HEAD') res.setHeader('content-length', Buffer.byteLength(body));
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** `?bighead=N`: four fields x-big-0..3 of N/4 bytes each (`<k>` then dots), for heads bigger than a uWS cork. */
function setBigHead(res: http.ServerResponse, url: URL): void {
  const n = Number(url.searchParams.get('bighead') ?? 0);
  for (let k = 0; n > 0 && k < 4; k++) res.setHeader(`x-big-${k}`, bigHeaderValue(k, n));
}

export function bigHeaderValue(k: number, total: number): string {
  return `${k}${'.'.repeat(Math.floor(total / 4) - 1)}`;
}

/** Write sizes of /mixed: small and large, so the proxy gets several chunks per read and chunks across reads. */
const MIXED_CHUNK_SIZES = [3, 7000, 30_000, 100, 65_536, 1500, 20_000, 16_000, 251, 40_000, 12];

/** Whether `body` is the /bytes pattern from offset 0. */
export function isPatternBody(body: Buffer): boolean {
  for (let i = 0; i < body.length; i++) if (body[i] !== i % 251) return false;
  return true;
}

export type RawScript = (socket: net.Socket, request: string) => void;

/** A TCP server on loopback for `onSocket`: it counts connections made and closed, and closes them with itself. */
async function tcpServer(onSocket: (socket: net.Socket) => void): Promise<Server & { readonly closedSockets: number }> {
  let connections = 0;
  let closedSockets = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      closedSockets++;
      sockets.delete(socket);
    });
    onSocket(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    get closedSockets() {
      return closedSockets;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A TCP server that hands the socket to `script` for every request head that arrives (bodies are not read). */
export async function startRawUpstream(script: RawScript): Promise<Server & { requests: string[]; closedSockets: number }> {
  const requests: string[] = [];
  const server = await tcpServer((socket) => {
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end + 4);
        buf = buf.slice(end + 4);
        requests.push(head);
        script(socket, head);
      }
    });
  });
  return Object.assign(server, { requests });
}

/**
 * An upstream for chunked requests that records each one as it came, head and framed body up to its last chunk,
 * and answers 200 "ok": what a proxy sent, byte for byte.
 */
export async function startChunkedCaptureUpstream(): Promise<Server & { requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const server = await tcpServer((socket) => {
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n0\r\n\r\n');
      if (end < 0) return;
      requests.push(got.subarray(0, end + 7));
      got = got.subarray(end + 7);
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    });
  });
  return Object.assign(server, { requests });
}

/**
 * An HTTP server answering 200 "ok" that keeps idle connections for a minute and tracks which are open: whether a
 * proxy closed its idle upstream connections, and when.
 */
export async function startKeepAliveUpstream(): Promise<Server & { open: ReadonlySet<net.Socket> }> {
  let connections = 0;
  const open = new Set<net.Socket>();
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (_req, res) => res.end('ok'));
  server.on('connection', (s: net.Socket) => {
    connections++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return connections;
    },
    open,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
