// The admin port, on the supervisor: /ready, /live, /stats, /config_dump, POST /reload, POST /drain.
// Mutating endpoints accept POST only, and only from loopback peers.

import http from 'node:http';
import type net from 'node:net';
import { StartupError } from '../errors.ts';
import { enforceHeaderDeadline, NEVER_MS } from './header-deadline.ts';

export interface AdminBackend {
  /** True when every worker runs the current generation and the process is not draining. */
  isReady(): boolean;
  configDump(): Promise<unknown>;
  /** Counters summed over the workers, each asked for them now. */
  stats(): Promise<unknown>;
  reload(source: string): Promise<{ ok: boolean; generation: number; error?: string }>;
  drain(source: string): void;
  /** Present only with MANTOU_TEST_HOOKS=1: crash a worker to exercise restart. */
  crashWorker?: (index: number, how: 'crash' | 'leak') => void;
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly backend: AdminBackend;

  /** How long a connection has to deliver a request's headers (`admin.headerTimeoutMs`; a reload may change it). */
  headerTimeoutMs: number;

  constructor(backend: AdminBackend, headerTimeoutMs: number) {
    this.backend = backend;
    this.headerTimeoutMs = headerTimeoutMs;
    // Node's own header and request timeouts off, with the interval that checks them: see header-deadline.ts.
    const options = { connectionsCheckingInterval: NEVER_MS, headersTimeout: 0, requestTimeout: 0 };
    this.server = http.createServer(options, (req, res) => {
      this.handle(req, res).catch((err: unknown) => reply(res, 500, { error: (err as Error).message }));
    });
    this.server.keepAliveTimeout = 2000;
    enforceHeaderDeadline(this.server, () => this.headerTimeoutMs);
  }

  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new StartupError('admin_listen_failed', `admin: cannot listen on ${address}:${port} (${err.code === 'EADDRINUSE' ? 'in use' : err.code})`)),
      );
      this.server.listen({ host: address, port, exclusive: true }, () => resolve((this.server.address() as net.AddressInfo).port));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const mutating = path === '/reload' || path === '/drain' || path === '/debug/crash-worker' || path === '/debug/leak-worker';
    if (mutating) {
      if (req.method !== 'POST') return reply(res, 405, { error: 'POST only' }, { allow: 'POST' });
      if (!isLoopback(req.socket.remoteAddress)) return reply(res, 403, { error: 'loopback peers only' });
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      return reply(res, 405, { error: 'GET only' }, { allow: 'GET, HEAD' });
    }
    req.resume();
    switch (path) {
      case '/ready': {
        const ready = this.backend.isReady();
        return reply(res, ready ? 200 : 503, ready ? 'ready\n' : 'not ready\n');
      }
      case '/live':
        return reply(res, 200, 'live\n');
      case '/stats':
        return reply(res, 200, await this.backend.stats());
      case '/config_dump':
        return reply(res, 200, await this.backend.configDump());
      case '/reload': {
        const r = await this.backend.reload('admin');
        return reply(res, r.ok ? 200 : 400, r);
      }
      case '/drain':
        this.backend.drain('admin');
        return reply(res, 202, { draining: true });
      case '/debug/crash-worker':
      case '/debug/leak-worker': {
        if (this.backend.crashWorker === undefined) return reply(res, 404, { error: 'not found' });
        const index = Number(new URL(req.url ?? '/', 'http://admin').searchParams.get('index') ?? '0');
        this.backend.crashWorker(index, path === '/debug/leak-worker' ? 'leak' : 'crash');
        return reply(res, 202, { crashing: index });
      }
      default:
        return reply(res, 404, { error: 'not found' });
    }
  }
}

function reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json', ...headers });
  res.end(text);
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
