// Peers for TCP proxy tests: upstream servers that count their open connections (to prove nothing leaks), a
// source-and-sink server and client that each send random bytes and hash what they receive, and small socket
// helpers that report how a connection ended (FIN or reset).

import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';

export interface TcpServer {
  readonly port: number;
  /** Connections open right now. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  readonly sockets: ReadonlySet<net.Socket>;
  close(): Promise<void>;
}

/** A loopback server running `onConnection` for each connection (allowHalfOpen: FINs are the handler's business). */
export async function startTcpServer(onConnection: (s: net.Socket) => void): Promise<TcpServer> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    accepted++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get open() {
      return sockets.size;
    },
    get accepted() {
      return accepted;
    },
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Echoes every byte; answers a FIN with its own once everything is echoed. */
export function startEchoTcpServer(): Promise<TcpServer> {
  return startTcpServer((s) => s.pipe(s));
}

/** A port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const s = await startTcpServer(() => {});
  const port = s.port;
  await s.close();
  return port;
}

export interface TransferResult {
  sentBytes: number;
  sentSha256: string;
  receivedBytes: number;
  receivedSha256: string;
}

/**
 * Streams `bytes` random bytes to `socket` in 1 MiB pieces with backpressure, then ends it (unless `end` is
 * false); resolves with what was sent, hashed.
 */
export function sendRandom(socket: net.Socket, bytes: number, end = true): Promise<{ sentBytes: number; sentSha256: string }> {
  const hash = createHash('sha256');
  let sent = 0;
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    const pump = (): void => {
      while (sent < bytes) {
        const piece = randomBytes(Math.min(1 << 20, bytes - sent));
        hash.update(piece);
        sent += piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (end) socket.end();
      resolve({ sentBytes: sent, sentSha256: hash.digest('hex') });
    };
    pump();
  });
}

/** Hashes everything `socket` receives until its FIN. */
export function receiveAll(socket: net.Socket): Promise<{ receivedBytes: number; receivedSha256: string }> {
  const hash = createHash('sha256');
  let received = 0;
  return new Promise((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      received += d.length;
      hash.update(d);
    });
    socket.once('end', () => resolve({ receivedBytes: received, receivedSha256: hash.digest('hex') }));
    socket.once('error', reject);
  });
}

/** A server sending `bytes` random bytes on each connection while hashing what it receives: one result per connection. */
export async function startSourceSink(bytes: number): Promise<TcpServer & { results: Promise<TransferResult>[] }> {
  const results: Promise<TransferResult>[] = [];
  const server = await startTcpServer((s) => {
    const received = receiveAll(s);
    const sent = sendRandom(s, bytes);
    results.push(Promise.all([sent, received]).then(([a, b]) => ({ ...a, ...b })));
  });
  return Object.assign(server, { results });
}

/** How a client connection ended. */
export interface Ending {
  /** Bytes received before the end. */
  received: Buffer;
  /** 'fin' (orderly end), 'reset' (ECONNRESET) or another error code. */
  how: string;
  ms: number;
}

/** Connects, writes `payload` (if any), and waits for the connection to end (bounded by `timeoutMs`). */
export function connectAndWait(port: number, payload?: Buffer | string, timeoutMs = 5000, end = false): Promise<Ending> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let how = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection still open after ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('connect', () => {
      if (payload !== undefined) s.write(payload);
      if (end) s.end();
    });
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      how ||= 'fin';
      s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      how ||= e.code === 'ECONNRESET' ? 'reset' : (e.code ?? 'error');
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), how: how || 'closed', ms: performance.now() - started });
    });
  });
}

/** Opens a connection and resolves once connected (the caller ends it). */
export function openConnection(port: number, options: { allowHalfOpen?: boolean } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen ?? true });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with the first `n` bytes `s` receives (or rejects when it ends before). */
export function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let have = 0;
    const onData = (d: Buffer): void => {
      chunks.push(d);
      have += d.length;
      if (have >= n) {
        s.off('data', onData);
        s.off('end', onEnd);
        resolve(Buffer.concat(chunks));
      }
    };
    const onEnd = (): void => reject(new Error(`ended after ${have} of ${n} bytes`));
    s.on('data', onData);
    s.once('end', onEnd);
  });
}

/** Open file descriptors of a process (Linux). */
export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A process's open descriptors and what each is (`socket:[…]`, a file's path), by number (Linux). */
export function openDescriptors(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(fd, readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // Closed between the listing and the look.
    }
  }
  return out;
}

/** Polls `check` every 25 ms until it holds (or throws after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
