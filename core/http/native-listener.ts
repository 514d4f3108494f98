// An HTTP listener on the `native` engine: the native HTTP/1.1 path (native/h1-*.c) serves requests on routes
// without filters (no body, or one relayed as it comes) and on routes whose filters it can run (FilterChain.nativeCapable:
// the addon holds the exchange while native-filtered.ts runs the chain, and hands it the response head when the
// route has onResponse hooks), and hands every other connection, at a
// request boundary and with the bytes it read, to a NetListener of its own that never listens (the `net` engine
// then does everything it always does).
// A connection comes back once the net engine has served what it was handed (net-connection.ts says when).
// This file is the policy half: per request the addon calls decide() (router, load balancer, counters, the route's
// timeout), unless it kept the decision (a route to a one-endpoint cluster: native/h1-cache.c); once per turn of
// the event loop, done() for the exchanges that ended in it (counters, the generation's drain, the onDone hooks of
// held ones); failure() answers with the local replies (native-failures.ts renders them). Nothing here runs per
// byte. Without the addon every connection is the net engine's (the listener says so when it starts).

import net from 'node:net';
import { ErrorKinds, listenFailed } from '../errors.ts';
import { componentLogger } from '../logger.ts';
import { loadNativeAddon } from '../native-addon.ts';
import type { HttpListener } from './http-listener.ts';
import type { HttpListenerContext } from './http-stream.ts';
import { exchangeEndOf, failureKindOf, failureReply, renderFailure, STATUS_UNIT } from './native-failures.ts';
import { NativeFilteredExchange, type ParkedExchangeAddon, type ParkedExchangeOwner } from './native-filtered.ts';
import type { HandBack } from './net-connection.ts';
import { NetListener } from './net-listener.ts';
import type { RequestHead } from './request-head.ts';
import type { Route } from './router.ts';

const log = componentLogger('native-http');

/** The addon's `http` exports (native/h1-listener.c). */
interface NativeHttpAddon extends ParkedExchangeAddon {
  listen(
    address: string,
    port: number,
    exclusive: boolean,
    io: Float64Array,
    decide: (method: string, path: string, host: string, rawHead?: string, requestId?: string, remoteAddress?: string) => number,
    done: (count: number) => void,
    failure: (kind: number, requestId: string, isHead: number, close: number, id: number) => string,
    handoff: (fd: number, bytes: Buffer, bounces: number) => void,
    gathered: (id: number) => void,
    response: (id: number, head: string, close: number) => string,
  ): { handle: object; port: number };
  adopt(handle: object, fd: number, bytes: Buffer, bounces: number): number;
  configure(
    handle: object,
    headerTimeoutMs: number,
    idleTimeoutMs: number,
    passHead: boolean,
    maxHeadBytes: number,
    maxTargetBytes: number,
    maxFields: number,
    bodyTimeoutMs: number,
    relayBodies: boolean,
    keepDecisions: boolean,
  ): void;
  addTarget(
    handle: object,
    address: string,
    port: number,
    connectTimeoutMs: number,
    idleTimeoutMs: number,
    maxConnections: number,
    maxPending: number,
    maxResponseHeadBytes: number,
  ): number;
  stopAccepting(handle: object): void;
  close(handle: object): void;
}

const loaded = process.env.MANTOU_NATIVE_HTTP === 'off' ? { addon: null, why: 'MANTOU_NATIVE_HTTP=off' } : loadNativeAddon<{ http: NativeHttpAddon }>();
const addon: NativeHttpAddon | null = loaded.addon?.http ?? null;

/** decide()'s answer for "serve it on the net engine" (H1_HANDOFF in native/h1.h). */
const HANDOFF = -1;
/** Ended exchanges the addon reports in one done() call (H1_ENDS_BATCH in native/h1.h). */
const ENDS_BATCH = 256;
/** io[IO_CACHEABLE]: decide() says its decision may be kept (H1_IO_CACHEABLE, native/h1-cache.c). */
const IO_CACHEABLE = 1 + 2 * ENDS_BATCH;
/** io[IO_CACHED_STARTS]: exchanges started on a kept decision, not counted here yet (H1_IO_CACHED_STARTS). */
const IO_CACHED_STARTS = 2 + 2 * ENDS_BATCH;
/**
 * io[IO_QUIET_SLOT]: the slot whose exchanges may end quietly (0: none); io[IO_QUIET_ENDS]: how many of them ended
 * well since it was last read, unreported (H1_IO_QUIET_SLOT, H1_IO_QUIET_ENDS; native/h1-exchange.c report_done).
 */
const IO_QUIET_SLOT = 3 + 2 * ENDS_BATCH;
const IO_QUIET_ENDS = 4 + 2 * ENDS_BATCH;
const IO_LENGTH = 5 + 2 * ENDS_BATCH;
/** A decision is slot·2³² + target (the addon reads the target from the low 16 bits). */
const SLOT = 2 ** 32;

/** One generation's context as native requests see it. */
interface Slot {
  readonly id: number;
  readonly context: HttpListenerContext;
  /** Per route served natively: the addon's target for each endpoint of its cluster. */
  readonly targets: ReadonlyMap<Route, readonly number[]>;
  /** Those of them with filters (nativeCapable): the addon holds their exchanges while the chain runs. */
  readonly filtered: ReadonlySet<Route>;
  live: number;
}

/** What the router reads of a request. */
class RoutingHead {
  method = '';
  path = '';
  host = '';
  readonly headers = new RawHeadFields();
}

/**
 * Field lookup over a request head as received, for routes that match on header fields (the only time the addon
 * passes the head). The head passed the addon's strict parse: CRLF lines, `name:` with no space before the colon.
 */
class RawHeadFields {
  head = '';

  /** The first field named `lowerName`, trimmed; undefined when absent. */
  get(lowerName: string): string | undefined {
    const head = this.head;
    let at = head.indexOf('\r\n') + 2;
    while (at < head.length - 2) {
      const end = head.indexOf('\r\n', at);
      const colon = head.indexOf(':', at);
      if (colon - at === lowerName.length && head.slice(at, colon).toLowerCase() === lowerName) return head.slice(colon + 1, end).trim();
      at = end + 2;
    }
    return undefined;
  }
}

/** A Transfer-Encoding field in a head as the addon passes it (strict: `name:` at a line's start). */
const TRANSFER_ENCODING = /\r\ntransfer-encoding:/i;
/** Exchange ids are 16 bits (0: none). */
const MAX_HELD = 0xffff;

export class NativeHttpListener implements HttpListener, ParkedExchangeOwner {
  readonly name: string;
  port = 0;
  readonly addon: NativeHttpAddon;
  private readonly handoffs: NetListener;
  handle: object | null = null;
  /** Exchanges the addon holds for their filters, by id; the ids free; those whose chain starts after this turn. */
  private readonly held: (NativeFilteredExchange | undefined)[] = [];
  private readonly freeIds: number[] = [];
  private readonly due: NativeFilteredExchange[] = [];
  private readonly dueAfterPoll: NativeFilteredExchange[] = [];
  /**
   * Shared with the addon: [0] the decided route's timeout, read right after decide(); [1 + 2i], [2 + 2i] the
   * (decision, failure) of each exchange a done() call reports; IO_CACHEABLE, IO_CACHED_STARTS, IO_QUIET_SLOT and
   * IO_QUIET_ENDS. An ArrayBuffer of its own: it never moves.
   */
  private readonly io = new Float64Array(new ArrayBuffer(8 * IO_LENGTH));
  /** stopAccepting() was called: every exchange's end is reported, for the drain that waits on them. */
  private stopped = false;
  private readonly slots = new Map<number, Slot>();
  private current: Slot;
  private slotIds = 0;
  /** Targets by endpoint and pool settings: a reload that keeps an endpoint keeps its pooled connections. */
  private readonly targetIds = new Map<string, number>();
  private readonly routing = new RoutingHead();

  /** The native engine when the addon is there; otherwise the net engine (and a warning). */
  static create(name: string, context: HttpListenerContext): HttpListener {
    if (addon !== null) return new NativeHttpListener(name, context, addon);
    log.warn({ listener: name, reason: loaded.why }, 'native HTTP engine unavailable: the listener runs on the net engine');
    return new NetListener(name, context);
  }

  private constructor(name: string, context: HttpListenerContext, native: NativeHttpAddon) {
    this.name = name;
    this.addon = native;
    this.handoffs = new NetListener(name, context);
    this.current = { id: 0, context, targets: new Map(), filtered: new Set(), live: 0 };
  }

  async listen(address: string, port: number, exclusive: boolean): Promise<number> {
    if (net.isIP(address) === 0) throw listenFailed(this.name, address, port, 'the native engine needs an IP address');
    try {
      const r = this.addon.listen(
        address,
        port,
        exclusive,
        this.io,
        (method, path, host, rawHead, requestId, remoteAddress) => this.decide(method, path, host, rawHead, requestId, remoteAddress),
        (count) => this.done(count),
        (kind, requestId, isHead, close, id) => this.failure(kind, requestId, isHead === 1, close === 1, id),
        (fd, bytes, bounces) => this.handoff(fd, bytes, bounces),
        (id) => this.gathered(id),
        (id, head, close) => this.held[id]?.responseHead(head, close === 1) ?? '',
      );
      this.handle = r.handle;
      this.port = r.port;
    } catch (err) {
      throw listenFailed(this.name, address, port, (err as NodeJS.ErrnoException).code ?? String(err));
    }
    this.setContext(this.current.context);
    return this.port;
  }

  setContext(context: HttpListenerContext): void {
    this.handoffs.setContext(context);
    const handle = this.handle;
    if (handle === null) {
      this.current = { ...this.current, context };
      return;
    }
    const routes = context.router.routes;
    const filtered = new Set(routes.filter((r) => !r.chain.isEmpty && r.chain.nativeCapable));
    // decide() gets the head when a route matches on header fields (then nothing is kept: the same method, host and
    // path may route elsewhere), or when a route runs filters (they see it; the other routes keep their decisions).
    const matchesFields = routes.some((r) => r.match.headers !== undefined);
    const passHead = matchesFields || filtered.size > 0;
    const { limits, headerTimeoutMs, idleTimeoutMs, bodyTimeoutMs, requestTimeoutMs } = context.net;
    // Content-Length bodies are relayed natively unless a whole-request deadline applies (the net engine keeps it).
    const relayBodies = requestTimeoutMs === 0;
    this.addon.configure(
      handle,
      headerTimeoutMs,
      idleTimeoutMs,
      passHead,
      limits.maxHeadBytes,
      limits.maxUriBytes,
      limits.maxFields,
      bodyTimeoutMs,
      relayBodies,
      !matchesFields,
    );
    const targets = new Map<Route, readonly number[]>();
    for (const r of routes) {
      const t = this.targetsOf(handle, r, filtered.has(r));
      if (t !== null) targets.set(r, t);
      else filtered.delete(r);
    }
    // A connection goes back from the net engine only when something here could serve its next request: with
    // every route needing the net engine (filters on the listener), each hand-back would be a handover again, and
    // at 5,000 req/s on fresh connections those handovers (a net.Socket each) held up the loop for milliseconds.
    this.handoffs.handBack = targets.size > 0 ? this.handBack : null;
    // Exchanges started on the previous generation's kept decisions (configure() above dropped them) are its own,
    // and so are those that ended quietly: the new slot's end quietly from now on.
    this.settleCounts();
    const slot: Slot = { id: ++this.slotIds, context, targets, filtered, live: 0 };
    const previous = this.current;
    this.current = slot;
    this.slots.set(slot.id, slot);
    if (!this.stopped) this.io[IO_QUIET_SLOT] = slot.id;
    if (previous.live === 0) this.slots.delete(previous.id);
  }

  stopAccepting(): void {
    // The worker decides on its in-flight count right after this (core/worker.ts): count every started exchange
    // first. A stopped listener keeps no decision, so decide() counts the rest as they come.
    // The exchanges left are reported one by one: the worker's drain waits on each.
    if (this.handle !== null) this.addon.stopAccepting(this.handle);
    this.settleCounts();
    this.stopped = true;
    this.io[IO_QUIET_SLOT] = 0;
    this.handoffs.stopAccepting();
  }

  close(): void {
    if (this.handle !== null) this.addon.close(this.handle);
    this.handle = null;
    this.settleCounts();
    this.handoffs.close();
  }

  /**
   * Counts what the addon counted for us since the last call: exchanges started on kept decisions and exchanges
   * that ended quietly (native/h1-exchange.c report_done), starts first. Called before anything reads the counts:
   * the worker's stats, a reload, a drain.
   */
  settleCounts(): void {
    this.countCachedStarts();
    this.countQuietEnds();
  }

  /**
   * Finishes the exchanges that ended without being reported. They are the current slot's: only it is ever named
   * in io[IO_QUIET_SLOT], and setContext() and stopAccepting() count them before it stops being named.
   */
  private countQuietEnds(): void {
    const n = this.io[IO_QUIET_ENDS] as number;
    if (n === 0) return;
    this.io[IO_QUIET_ENDS] = 0;
    const slot = this.current;
    slot.context.lifecycle.streamFinished(slot.context.generation, n);
    slot.live -= n;
  }

  private handoff(fd: number, bytes: Buffer, bounces: number): void {
    this.current.context.counters.nativeHandoffs++;
    this.handoffs.adoptDescriptor(fd, bytes, bounces);
  }

  /** A connection the net engine served a request of comes back between requests (net-connection.ts). */
  private readonly handBack: HandBack = (fd, pending, bounces) => {
    const handle = this.handle;
    if (handle === null || this.addon.adopt(handle, fd, pending, bounces) !== 0) return false;
    this.current.context.counters.nativeHandbacks++;
    return true;
  };

  /** The addon's targets for a route's endpoints, or null when the route needs what only the net engine does. */
  private targetsOf(handle: object, route: Route, filtered: boolean): number[] | null {
    const cluster = route.cluster;
    if (cluster === null || (!route.chain.isEmpty && !filtered) || route.directResponse !== null) return null;
    if (route.prefixRewrite !== undefined || route.hostRewrite !== undefined) return null;
    const spec = cluster.spec;
    const targets: number[] = [];
    for (const e of spec.endpoints) {
      if (net.isIP(e.address) === 0) return null;
      const key = `${e.address}|${e.port}|${spec.connectTimeoutMs}|${spec.idleTimeoutMs}|${spec.maxConnectionsPerEndpoint}|${spec.maxPendingRequestsPerEndpoint}|${spec.maxResponseHeadBytes}`;
      let id = this.targetIds.get(key);
      if (id === undefined) {
        id = this.addon.addTarget(
          handle,
          e.address,
          e.port,
          spec.connectTimeoutMs,
          spec.idleTimeoutMs,
          spec.maxConnectionsPerEndpoint,
          spec.maxPendingRequestsPerEndpoint,
          spec.maxResponseHeadBytes,
        );
        if (id < 0) return null;
        this.targetIds.set(key, id);
      }
      targets.push(id);
    }
    return targets;
  }

  /** A complete request head arrived (with or without a body): its target (and slot), or HANDOFF. */
  private decide(method: string, path: string, host: string, rawHead?: string, requestId?: string, remoteAddress?: string): number {
    const slot = this.current;
    const head = this.routing;
    head.method = method;
    head.path = path;
    head.host = host;
    head.headers.head = rawHead ?? '';
    const context = slot.context;
    const route = context.router.match(head as unknown as RequestHead);
    if (route === null) return HANDOFF;
    const targets = slot.targets.get(route);
    if (targets === undefined) return HANDOFF;
    if (slot.filtered.has(route)) return this.hold(slot, route, targets, rawHead ?? '', requestId ?? '', remoteAddress ?? '');
    const target = targets[(route.cluster as NonNullable<Route['cluster']>).pickEndpoint()] as number;
    this.io[0] = route.timeoutMs;
    // One endpoint: the same route means the same decision, which the addon may keep and reuse for this method,
    // host and path (it never does on a listener whose routes match on header fields).
    if (targets.length === 1) this.io[IO_CACHEABLE] = 1;
    countStarts(slot, 1);
    return slot.id * SLOT + target;
  }

  /**
   * A request on a route with filters: the addon holds the exchange under an id, and its chain runs once decide()
   * has returned (a filter may answer at once, and the addon must hold the exchange before it is answered).
   * Requests the native chain cannot take (a chunked body for a filter that reads bodies) go to the net engine.
   */
  private hold(slot: Slot, route: Route, targets: readonly number[], rawHead: string, requestId: string, remoteAddress: string): number {
    // The addon passes a Transfer-Encoding only as `chunked` alone.
    if (route.chain.hasRequestBody && TRANSFER_ENCODING.test(rawHead)) return HANDOFF;
    const id = this.freeIds.pop() ?? (this.held.length < MAX_HELD ? Math.max(1, this.held.length) : 0);
    if (id === 0) return HANDOFF;
    const base = slot.id * SLOT;
    const { context } = slot;
    const exchange = new NativeFilteredExchange(this, id, base + id * EXCHANGE_ID, context, route, targets, rawHead, requestId, remoteAddress);
    this.held[id] = exchange;
    this.queue(exchange);
    countStarts(slot, 1);
    return NativeFilteredExchange.heldDecision(base, id);
  }

  /** A failure's local reply; `id`: the exchange's, when its route's response filters are to see it. */
  private failure(kindIndex: number, requestId: string, headOnly: boolean, close: boolean, id: number): string {
    const exchange = id === 0 ? undefined : this.held[id];
    if (exchange === undefined) return renderFailure(kindIndex, requestId, headOnly, close);
    const r = failureReply(kindIndex, requestId);
    return exchange.failureReply(r.status, r.headers, r.body, headOnly && !r.close, close || r.close);
  }

  /** The held exchange's body is all gathered: its body phases run in a turn of their own. */
  private gathered(id: number): void {
    const exchange = this.held[id];
    if (exchange === undefined) return;
    exchange.bodyGathered();
    this.queue(exchange);
  }

  queue(exchange: NativeFilteredExchange): void {
    if (exchange.afterPoll) {
      if (this.dueAfterPoll.push(exchange) === 1) setImmediate(this.toNextTurn);
    } else if (this.due.push(exchange) === 1) setImmediate(this.runDue);
  }

  private readonly runDue = (): void => {
    const list = this.due.splice(0);
    for (const exchange of list) exchange.runDue();
  };

  /**
   * Steps of a large body's exchange go in a turn of their own, after a poll: queued from the addon's callbacks
   * (the poll phase), an immediate would run them in the same turn as the reads that led to them, and every GET
   * arriving meanwhile would wait for both. From this immediate (the check phase), the next runs after the next poll.
   */
  private readonly toNextTurn = (): void => {
    const list = this.dueAfterPoll.splice(0);
    for (const exchange of list) {
      exchange.afterPoll = false;
      this.queue(exchange);
    }
  };

  /** A held exchange ended (the status sent, 0 if none; the addon's failure kind): its id is free again. */
  private release(id: number, status: number, failure: number): void {
    const exchange = this.held[id];
    if (exchange === undefined) return;
    this.held[id] = undefined;
    this.freeIds.push(id);
    exchange.end(status, exchangeEndOf(failure));
  }

  /**
   * Counts the exchanges the addon started on kept decisions since the last call, as decide() counts its own.
   * They are the current slot's: setContext() counts them before it changes slots, and the addon drops its kept
   * decisions then.
   */
  private countCachedStarts(): void {
    const n = this.io[IO_CACHED_STARTS] as number;
    if (n === 0) return;
    this.io[IO_CACHED_STARTS] = 0;
    countStarts(this.current, n);
  }

  /** `count` exchanges ended (their decisions and failures are in io[1..]), reported once per turn of the loop. */
  private done(count: number): void {
    // Their starts first: some of these may have started on a kept decision.
    this.settleCounts();
    const io = this.io;
    for (let i = 0; i < count; i++) {
      const decision = io[1 + 2 * i] as number;
      const id = Math.floor(decision / SLOT);
      const held = Math.floor(decision / EXCHANGE_ID) % EXCHANGE_ID;
      const ended = io[2 + 2 * i] as number;
      const failure = ended % STATUS_UNIT;
      if (held !== 0) this.release(held, (ended - failure) / STATUS_UNIT, failure);
      const slot = this.slots.get(id);
      if (slot === undefined) continue;
      const context = slot.context;
      const kind = failureKindOf(failure);
      if (kind === ErrorKinds.internal) context.counters.localReplies++;
      else if (kind !== null) {
        context.counters.upstreamFailures++;
        if (kind !== ErrorKinds.upstreamResetMidResponse) context.counters.localReplies++;
      }
      context.lifecycle.streamFinished(context.generation);
      slot.live--;
      if (slot.live === 0 && slot !== this.current) this.slots.delete(id);
    }
  }
}

/** A decision's exchange id is bits 16..31 (native/h1.h). */
const EXCHANGE_ID = 2 ** 16;
/** `n` exchanges of `slot` started natively: the request counters, the generation's in-flight count, the slot's. */
function countStarts(slot: Slot, n: number): void {
  const context = slot.context;
  context.counters.streams += n;
  context.counters.nativeStreams += n;
  context.lifecycle.streamStarted(context.generation, n);
  slot.live += n;
}
