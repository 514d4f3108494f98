// Keep-alive connections to one endpoint: idle connections reused last-in first-out (the warmest socket), at most
// `maxConnections` open, and a bounded FIFO of streams waiting for one. Connections idle longer than
// `idleTimeoutMs` are never reused: the default (4 s) sits below common servers' keep-alive (Node 5 s, nginx 75 s),
// so the pool does not send a request on a socket the server is closing at that moment.

import { ErrorKinds, failure, type StreamFailure } from '../errors.ts';
import { type ConnectionOwner, UpstreamConnection } from './upstream-connection.ts';

export interface PoolWaiter {
  /** A connection is ready for this stream; the waiter attaches to it synchronously. */
  onConnectionReady(conn: UpstreamConnection): void;
  onPoolFailure(f: StreamFailure): void;
}

export interface PoolOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  maxConnections: number;
  maxPendingRequests: number;
  idleTimeoutMs: number;
  maxResponseHeadBytes: number;
}

/** What keeps idle connections swept: told whenever a connection goes idle (a no-op while a sweep is due). */
export interface IdleSweep {
  connectionIdled(): void;
}

export class ConnectionPool implements ConnectionOwner {
  readonly options: PoolOptions;
  private readonly idleSweep: IdleSweep;
  private readonly idle: UpstreamConnection[] = [];
  private readonly waiters: PoolWaiter[] = [];
  private waitersHead = 0;
  private total = 0;
  private connecting = 0;
  private closed = false;

  constructor(options: PoolOptions, idleSweep: IdleSweep) {
    this.options = options;
    this.idleSweep = idleSweep;
  }

  get endpointLabel(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** Open connections (connecting, idle and active). */
  get size(): number {
    return this.total;
  }

  /** When the longest-idle connection went idle (performance.now() clock), or +Infinity with none idle. */
  get oldestIdleSinceMs(): number {
    // The stack's bottom holds the oldest idle connections.
    return this.idle.length > 0 ? (this.idle[0] as UpstreamConnection).idleSinceMs : Number.POSITIVE_INFINITY;
  }

  get pendingCount(): number {
    return this.waiters.length - this.waitersHead;
  }

  /**
   * Gives the waiter a connection now (an idle one), later (a new or released one), or a failure now
   * (the queue is full). `fresh` skips idle connections: used to retry on a connection the server cannot have closed.
   */
  acquire(waiter: PoolWaiter, fresh = false): void {
    if (!fresh) {
      const now = performance.now();
      while (this.idle.length > 0) {
        const conn = this.idle.pop() as UpstreamConnection;
        if (now - conn.idleSinceMs >= this.options.idleTimeoutMs || conn.isClosed) {
          conn.destroy();
          continue;
        }
        waiter.onConnectionReady(conn);
        return;
      }
    }
    // The limit counts requests queued beyond the connections already being opened for them: a request that
    // waits only for its own connect is not "pending" in the overload sense.
    if (this.pendingCount - this.connecting >= this.options.maxPendingRequests) {
      waiter.onPoolFailure(failure(ErrorKinds.upstreamOverflow, `pending request queue full for ${this.endpointLabel}`));
      return;
    }
    this.waiters.push(waiter);
    if (this.total < this.options.maxConnections && this.connecting < this.pendingCount) this.openConnection();
  }

  /** Withdraws a waiter that gave up (aborted or timed out) before getting a connection. */
  cancel(waiter: PoolWaiter): void {
    const i = this.waiters.indexOf(waiter, this.waitersHead);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  /** Closes every connection; pending waiters fail. Used when a generation drops this cluster. */
  close(): void {
    this.closed = true;
    for (const conn of this.idle.splice(0)) conn.destroy();
    while (this.pendingCount > 0) this.shiftWaiter()?.onPoolFailure(failure(ErrorKinds.noHealthyEndpoint, 'cluster removed'));
  }

  /** Closes idle connections past the idle timeout; called by the cluster's sweep. */
  sweepIdle(nowMs: number): void {
    const limit = this.options.idleTimeoutMs;
    // The stack's bottom holds the oldest idle connections.
    while (this.idle.length > 0 && nowMs - (this.idle[0] as UpstreamConnection).idleSinceMs >= limit) {
      (this.idle.shift() as UpstreamConnection).destroy();
    }
  }

  onConnected(conn: UpstreamConnection): void {
    this.connecting--;
    this.handOver(conn);
  }

  onConnectFailed(_conn: UpstreamConnection, f: StreamFailure): void {
    this.connecting--;
    this.total--;
    // One failed attempt fails one waiter; the rest keep their own attempts in flight.
    const waiter = this.shiftWaiter();
    waiter?.onPoolFailure(f);
  }

  onReleased(conn: UpstreamConnection): void {
    this.handOver(conn);
  }

  onGone(conn: UpstreamConnection): void {
    this.total--;
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (!this.closed && this.pendingCount > this.connecting && this.total < this.options.maxConnections) this.openConnection();
  }

  private handOver(conn: UpstreamConnection): void {
    const waiter = this.shiftWaiter();
    if (waiter !== undefined && !this.closed) {
      waiter.onConnectionReady(conn);
      return;
    }
    if (this.closed) {
      conn.destroy();
      return;
    }
    conn.markIdle(performance.now());
    this.idle.push(conn);
    this.idleSweep.connectionIdled();
  }

  private shiftWaiter(): PoolWaiter | undefined {
    if (this.waitersHead >= this.waiters.length) return undefined;
    const w = this.waiters[this.waitersHead++];
    if (this.waitersHead > 64 && this.waitersHead * 2 > this.waiters.length) {
      this.waiters.splice(0, this.waitersHead);
      this.waitersHead = 0;
    } else if (this.waitersHead === this.waiters.length) {
      this.waiters.length = 0;
      this.waitersHead = 0;
    }
    return w;
  }

  private openConnection(): void {
    this.total++;
    this.connecting++;
    const o = this.options;
    new UpstreamConnection(this, o.host, o.port, o.connectTimeoutMs, o.maxResponseHeadBytes);
  }
}
