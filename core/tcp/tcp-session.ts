// One TCP session: a client connection and the upstream connection made for it. Connection filters run first
// (session-filters.ts); then an endpoint is picked by the cluster's load balancer and connected, with a bounded
// retry on another endpoint; then bytes are relayed both ways with backpressure (a side that cannot take more
// pauses the other's reads) and half-close (a FIN is passed on, the other direction keeps flowing). Deadlines are
// checked by the listener's sweep. Reads use Node's `onread` (socket-read-buffer.ts): no stream machinery per chunk.

import net from 'node:net';
import { adoptWithOnread, socketFromDescriptor } from '../http/accepted-socket.ts';
import type { GenerationState, WorkerLifecycle } from '../lifecycle.ts';
import { componentLogger } from '../logger.ts';
import type { Cluster } from '../upstream/cluster.ts';
import type { ConnectionFilterInstance, SessionContext, SessionOutcome } from './connection-filter.ts';
import { writeSessionAccessLog } from './session-access-log.ts';
import { type FilterHost, SessionFilters } from './session-filters.ts';
import { nextSessionId } from './session-ids.ts';
import type { SessionOrdinals, SharedSessionCounts } from './shared-session-counts.ts';
import { SocketReadBuffer } from './socket-read-buffer.ts';
import { endpointCounters, type TcpCounters } from './tcp-counters.ts';

const log = componentLogger('tcp');

/** Everything a session needs of its generation; built once per generation per listener. */
export interface TcpListenerContext {
  readonly name: string;
  /** The listener's `cluster`, or '' when a filter must pick one. */
  readonly defaultCluster: string;
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly filters: readonly ConnectionFilterInstance[];
  /** True when a filter has onData: every chunk then goes through them. */
  readonly dataFilters: boolean;
  readonly idleTimeoutMs: number;
  /** 0: no limit. */
  readonly maxSessionMs: number;
  readonly maxConnectAttempts: number;
  readonly accessLog: boolean;
  readonly generation: GenerationState;
  readonly lifecycle: WorkerLifecycle;
}

/** What a session needs of its listener. */
export interface SessionOwner {
  readonly counters: TcpCounters;
  readonly shared: SharedSessionCounts | null;
  /** Coarse clock (Date.now() at the last sweep or accept; read afresh after the listener dozed). */
  now(): number;
  sessionFinished(s: TcpSession): void;
}

const Stage = { Filters: 0, Connecting: 1, Relaying: 2, Closed: 3 } as const;
type Stage = (typeof Stage)[keyof typeof Stage];

interface Addresses {
  clientAddress: string;
  clientPort: number;
  localAddress: string;
  localPort: number;
}

const ordinals: SessionOrdinals = { active: 0, thisSecond: 0 };
const ignore = (): void => {};

export class TcpSession implements SessionContext, FilterHost {
  readonly listenerName: string;
  readonly sessionId = nextSessionId();
  clusterName: string;
  upstreamEndpoint = '';
  readonly listenerActiveSessions: number;
  readonly listenerSessionsThisSecond: number;
  readonly startMs = performance.now();
  bytesFromClient = 0;
  bytesFromUpstream = 0;
  clientEnded = false;

  private attributeMap: Map<string, unknown> | null = null;
  /** Read from the socket when first asked for (system calls a session may not need); a filter may replace them. */
  private addressCache: Addresses | null = null;
  private readonly client: net.Socket;
  private upstream: net.Socket | null = null;
  private readonly clientReads = new SocketReadBuffer();
  private readonly upstreamReads = new SocketReadBuffer();
  private readonly context: TcpListenerContext;
  private readonly owner: SessionOwner;
  private readonly filters: SessionFilters;
  private stage: Stage = Stage.Filters;
  private cluster: Cluster | null = null;
  private attempts = 0;
  private readonly tried = new Set<number>();
  private upstreamEnded = false;
  private clientClosed = false;
  private upstreamClosed = false;
  private finished = false;
  /** The first reason wins; a clean end is named by the side whose FIN came first. */
  private closeReason = '';
  /** Deadlines (coarse ms): the current stage's (preface or connect; 0 none), the session's own (0 none). */
  private stageDeadline = 0;
  private readonly endDeadline: number;
  private lastActivityMs: number;

  /**
   * `accepted` comes from a server with pauseOnConnect (its handle moves into a socket reading with `onread`), or
   * is a descriptor the native relay handed over (a socket is made of it, paused).
   */
  constructor(accepted: net.Socket | number, context: TcpListenerContext, owner: SessionOwner) {
    const onread = { buffer: this.clientReads.next, callback: this.onClientRead };
    const client = typeof accepted === 'number' ? socketFromDescriptor(accepted, onread, true) : adoptWithOnread(accepted, true, onread, true);
    this.client = client;
    this.context = context;
    this.owner = owner;
    this.listenerName = context.name;
    this.clusterName = context.defaultCluster;
    const now = owner.now();
    this.lastActivityMs = now;
    this.endDeadline = context.maxSessionMs > 0 ? now + context.maxSessionMs : 0;
    const counters = owner.counters;
    counters.sessions++;
    counters.activeSessions++;
    if (owner.shared !== null) owner.shared.opened(Math.floor(now / 1000), ordinals);
    else ordinals.active = ordinals.thisSecond = counters.activeSessions;
    this.listenerActiveSessions = ordinals.active;
    this.listenerSessionsThisSecond = ordinals.thisSecond;
    context.lifecycle.streamStarted(context.generation);
    // The access log needs the addresses after the socket is gone: read them while it is open.
    if (context.accessLog) this.addresses();
    client.on('end', this.onClientEnd);
    client.on('error', this.onClientError);
    client.on('close', this.onClientClose);
    this.filters = new SessionFilters(context.filters, this, context.idleTimeoutMs);
    this.filters.run();
  }

  // ---- what filters see ----

  get session(): SessionContext {
    return this;
  }

  get attributes(): Map<string, unknown> {
    this.attributeMap ??= new Map();
    return this.attributeMap;
  }

  private addresses(): Addresses {
    this.addressCache ??= {
      clientAddress: this.client.remoteAddress ?? '',
      clientPort: this.client.remotePort ?? 0,
      localAddress: this.client.localAddress ?? '',
      localPort: this.client.localPort ?? 0,
    };
    return this.addressCache;
  }

  get clientAddress(): string {
    return this.addresses().clientAddress;
  }
  set clientAddress(v: string) {
    this.addresses().clientAddress = v;
  }
  get clientPort(): number {
    return this.addresses().clientPort;
  }
  set clientPort(v: number) {
    this.addresses().clientPort = v;
  }
  get localAddress(): string {
    return this.addresses().localAddress;
  }
  set localAddress(v: string) {
    this.addresses().localAddress = v;
  }
  get localPort(): number {
    return this.addresses().localPort;
  }
  set localPort(v: number) {
    this.addresses().localPort = v;
  }

  // ---- the filter host ----

  get filtering(): boolean {
    return this.stage === Stage.Filters;
  }

  filterFailed(name: string, err: unknown): void {
    const failures = this.owner.counters.filterFailures;
    failures[name] = (failures[name] ?? 0) + 1;
    log.error({ err, filter: name, listener: this.listenerName, session: this.sessionId }, 'connection filter failed');
    this.close('filter_error', true);
  }

  waitForClientBytes(timeoutMs: number): void {
    if (this.stageDeadline === 0) this.stageDeadline = this.owner.now() + timeoutMs;
    this.client.resume();
  }

  prefaceSatisfied(): void {
    this.stageDeadline = 0;
    // Until another filter asks for bytes (or the upstream is there), the client's bytes wait in the kernel.
    this.client.pause();
  }

  filtersPassed(): void {
    const cluster = this.context.clusters.get(this.clusterName);
    if (cluster === undefined) {
      this.close('no_cluster', true);
      return;
    }
    this.cluster = cluster;
    this.stage = Stage.Connecting;
    // Later client bytes wait in the kernel until there is an upstream to send them to.
    this.client.pause();
    this.connectAttempt();
  }

  // ---- upstream ----

  private connectAttempt(): void {
    const cluster = this.cluster as Cluster;
    const endpoints = cluster.spec.endpoints;
    let index = cluster.pickEndpoint();
    // Retries go to an endpoint not tried yet while there is one (HAProxy's redispatch).
    for (let n = 0; this.tried.has(index) && this.tried.size < endpoints.length && n < endpoints.length; n++) index = cluster.pickEndpoint();
    this.tried.add(index);
    this.attempts++;
    const e = endpoints[index] as (typeof endpoints)[number];
    this.upstreamEndpoint = cluster.endpointNames[index] as string;
    const upstream = net.connect({
      host: e.address,
      port: e.port,
      noDelay: true,
      allowHalfOpen: true,
      onread: { buffer: this.upstreamReads.next, callback: this.onUpstreamRead },
    });
    this.upstream = upstream;
    this.stageDeadline = this.owner.now() + cluster.spec.connectTimeoutMs;
    upstream.once('connect', this.onUpstreamConnected);
    upstream.on('error', this.onUpstreamError);
    upstream.on('close', this.onUpstreamClose);
  }

  /** This attempt failed (refused, unreachable, timed out): try another endpoint, or give up. */
  private connectFailed(reason: string, detail: string): void {
    const counters = this.owner.counters;
    counters.connectFailures++;
    endpointCounters(counters, this.upstreamEndpoint).connectFailures++;
    const failed = this.upstream as net.Socket;
    failed.removeAllListeners();
    failed.on('error', ignore);
    failed.destroy();
    this.upstream = null;
    if (this.attempts < this.context.maxConnectAttempts) {
      log.debug({ listener: this.listenerName, upstream: this.upstreamEndpoint, detail }, 'upstream connect failed: retrying');
      this.connectAttempt();
      return;
    }
    counters.sessionsUnreachable++;
    log.warn(
      { listener: this.listenerName, upstream: this.upstreamEndpoint, attempts: this.attempts, detail },
      'upstream unreachable: client connection reset',
    );
    this.close(reason, true);
  }

  private readonly onUpstreamConnected = (): void => {
    if (this.stage !== Stage.Connecting) return;
    const upstream = this.upstream as net.Socket;
    this.stage = Stage.Relaying;
    endpointCounters(this.owner.counters, this.upstreamEndpoint).sessions++;
    this.stageDeadline = 0;
    this.lastActivityMs = this.owner.now();
    const firsts = this.filters.upstreamConnected();
    if (firsts === null) return;
    for (const first of firsts) upstream.write(first);
    upstream.on('end', this.onUpstreamEnd);
    upstream.on('drain', this.onUpstreamDrain);
    this.client.on('drain', this.onClientDrain);
    const early = this.filters.preface;
    this.filters.preface = null;
    if (early !== null) this.relayFromClient(early);
    if (this.clientEnded) upstream.end();
    else this.client.resume();
  };

  // ---- relay ----

  /** A read from the client: a view of a read buffer, valid during this call only. */
  private readonly onClientRead = (n: number): boolean => {
    const chunk = this.clientReads.chunk(n);
    if (this.stage === Stage.Relaying) this.relayFromClient(chunk);
    // Bytes before the relay are kept (copied) for the filters and the upstream.
    else if (this.stage !== Stage.Closed) this.filters.clientBytes(Buffer.from(chunk));
    return true;
  };

  private relayFromClient(chunk: Buffer): void {
    const n = chunk.length;
    this.bytesFromClient += n;
    this.owner.counters.bytesFromClient += n;
    this.lastActivityMs = this.owner.now();
    const out = this.context.dataFilters ? this.filters.data(chunk, true) : chunk;
    if (out !== null && !this.clientReads.writeTo(this.upstream as net.Socket, out)) this.client.pause();
  }

  private readonly onUpstreamRead = (n: number): boolean => {
    if (this.stage !== Stage.Relaying) return true;
    const chunk = this.upstreamReads.chunk(n);
    this.bytesFromUpstream += n;
    this.owner.counters.bytesFromUpstream += n;
    this.lastActivityMs = this.owner.now();
    const out = this.context.dataFilters ? this.filters.data(chunk, false) : chunk;
    if (out !== null && !this.upstreamReads.writeTo(this.client, out)) (this.upstream as net.Socket).pause();
    return true;
  };

  private readonly onUpstreamDrain = (): void => {
    if (this.stage === Stage.Relaying) this.client.resume();
  };

  private readonly onClientDrain = (): void => {
    if (this.stage === Stage.Relaying) (this.upstream as net.Socket).resume();
  };

  private readonly onClientEnd = (): void => {
    this.clientEnded = true;
    if (this.closeReason === '' && !this.upstreamEnded) this.closeReason = 'client_closed';
    if (this.stage === Stage.Relaying) (this.upstream as net.Socket).end();
    else if (this.stage === Stage.Filters) this.filters.clientEnded();
  };

  private readonly onUpstreamEnd = (): void => {
    this.upstreamEnded = true;
    if (this.closeReason === '' && !this.clientEnded) this.closeReason = 'upstream_closed';
    this.client.end();
  };

  private readonly onClientError = (err: NodeJS.ErrnoException): void => {
    this.close(err.code === 'ECONNRESET' ? 'client_reset' : 'client_error', true);
  };

  private readonly onUpstreamError = (err: NodeJS.ErrnoException): void => {
    if (this.stage === Stage.Connecting) this.connectFailed('connect_failed', err.code ?? err.message);
    else this.close(err.code === 'ECONNRESET' ? 'upstream_reset' : 'upstream_error', true);
  };

  private readonly onClientClose = (): void => {
    this.clientClosed = true;
    // A client gone while the upstream still has work for it: nothing can reach it any more.
    if (this.stage !== Stage.Closed && !(this.clientEnded && this.upstreamEnded)) this.close(this.closeReason || 'client_closed', false);
    this.maybeFinish();
  };

  private readonly onUpstreamClose = (): void => {
    this.upstreamClosed = true;
    if (this.stage !== Stage.Closed && !(this.clientEnded && this.upstreamEnded)) this.close(this.closeReason || 'upstream_closed', false);
    this.maybeFinish();
  };

  // ---- deadlines and the end ----

  /**
   * Until when the listener may doze for this session: its earliest deadline once it only waits for bytes (relaying,
   * both read buffers parked, so the sweeps have nothing left to park), else 0 (it needs the sweeps).
   */
  idleUntil(): number {
    if (this.stage !== Stage.Relaying || !this.clientReads.parked) return 0;
    if (this.upstream !== null && !this.upstreamReads.parked) return 0;
    const idleAt = this.lastActivityMs + this.context.idleTimeoutMs;
    return this.endDeadline !== 0 && this.endDeadline < idleAt ? this.endDeadline : idleAt;
  }

  /** Called by the listener's sweep. */
  checkDeadlines(now: number): void {
    if (this.stage === Stage.Closed) return;
    this.clientReads.sweep(this.client);
    if (this.upstream !== null) this.upstreamReads.sweep(this.upstream);
    if (this.stageDeadline !== 0 && now >= this.stageDeadline) {
      if (this.stage === Stage.Connecting) this.connectFailed('connect_timeout', 'timed out');
      else this.close('preface_timeout', true);
      return;
    }
    if (this.endDeadline !== 0 && now >= this.endDeadline) this.close('max_duration', false);
    else if (now - this.lastActivityMs >= this.context.idleTimeoutMs) this.close('idle_timeout', false);
  }

  /**
   * Ends the session now: with `reset`, both connections are reset (a failure must not look like a clean end);
   * otherwise closed. The first reason given is the one recorded (a FIN-named reason gives way to a later failure).
   */
  close(reason: string, reset: boolean): void {
    if (this.stage === Stage.Closed) return;
    this.stage = Stage.Closed;
    if (this.closeReason === '' || this.clientEnded || this.upstreamEnded) this.closeReason = reason;
    destroy(this.client, reset);
    if (this.upstream !== null) destroy(this.upstream, reset && this.upstream.readyState === 'open');
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || !this.clientClosed || (this.upstream !== null && !this.upstreamClosed)) return;
    this.finished = true;
    this.stage = Stage.Closed;
    this.clientReads.park(null);
    this.upstreamReads.park(null);
    const counters = this.owner.counters;
    counters.activeSessions--;
    this.owner.shared?.closed();
    const reason = this.closeReason || 'client_closed';
    counters.closeReasons[reason] = (counters.closeReasons[reason] ?? 0) + 1;
    const durationMs = performance.now() - this.startMs;
    counters.sessionSeconds += durationMs / 1000;
    // The outcome is made only for someone to read it: a listener without filters or access log allocates nothing.
    if (this.filters.anyConnectRan || this.context.accessLog) {
      const outcome: SessionOutcome = { closeReason: reason, bytesFromClient: this.bytesFromClient, bytesFromUpstream: this.bytesFromUpstream, durationMs };
      if (this.filters.anyConnectRan) {
        for (const name of this.filters.closed(outcome)) counters.filterFailures[name] = (counters.filterFailures[name] ?? 0) + 1;
      }
      if (this.context.accessLog) writeSessionAccessLog(this, this.attributeMap, outcome);
    }
    this.context.lifecycle.streamFinished(this.context.generation);
    this.owner.sessionFinished(this);
  }
}

function destroy(socket: net.Socket, reset: boolean): void {
  if (socket.destroyed) return;
  if (reset) socket.resetAndDestroy();
  else socket.destroy();
}
