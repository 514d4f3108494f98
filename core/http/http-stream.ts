// One request/response exchange: route → request filters → cluster → pooled upstream connection → response
// filters (reverse) → downstream. The stream is itself the pool waiter, the upstream parser's handler, the
// filter chain's host and the downstream's handler, so the hot path allocates no per-request closures.

import { randomUUID } from 'node:crypto';
import { type ErrorKind, ErrorKinds, type StreamFailure } from '../errors.ts';
import type { GenerationState, WorkerLifecycle } from '../lifecycle.ts';
import { componentLogger } from '../logger.ts';
import { offload } from '../offload/offload-pool.ts';
import type { ConnectionPool, PoolWaiter } from '../upstream/connection-pool.ts';
import { CHUNK_TRAILER_CRLF, encodeChunkHeader, LAST_CHUNK, requestHeadText } from '../upstream/request-encoder.ts';
import type { UpstreamConnection, UpstreamStream } from '../upstream/upstream-connection.ts';
import { releaseChunk } from '../util/chunk-pool.ts';
import { type BodyDirection, BodyFlow, type BodyFlowSink } from './body-flow.ts';
import type { CorkedWork, Downstream, DownstreamHandler } from './downstream.ts';
import { type ChainHost, ChainResult, type FilterChain, type FilterFailure } from './filter-chain.ts';
import { HeaderList } from './header-list.ts';
import { DOWNSTREAM_FRAMING, stripHopByHop } from './header-rules.ts';
import { type LocalReply, localReplyFor, reasonPhrase } from './local-reply.ts';
import type { NetEngineSettings } from './net-settings.ts';
import type { RequestHead } from './request-head.ts';
import { ResponseHead } from './response-head.ts';
import type { Route, Router } from './router.ts';
import type { StreamContext, StreamOutcome } from './stream-context.ts';
import { WholeBody } from './whole-body.ts';

const log = componentLogger('http-stream');

/** The per-listener state a stream needs; built once per generation. */
export interface HttpListenerContext {
  readonly name: string;
  readonly router: Router;
  /** Request body bytes held while no upstream connection is ready, before the client is paused. */
  readonly maxBufferedRequestBytes: number;
  readonly counters: StreamCounters;
  readonly generation: GenerationState;
  readonly lifecycle: WorkerLifecycle;
  /** Settings of the `net` engine (unused by uWS listeners). */
  readonly net: NetEngineSettings;
}

export interface StreamCounters {
  streams: number;
  localReplies: number;
  upstreamFailures: number;
  filterFailures: number;
  filterFailuresByFilter: Record<string, number>;
}

const NO_ROUTE: Route | null = null;

const RequestIdIn = { Absent: 0, Empty: 1, Present: 2 } as const;
type RequestIdIn = (typeof RequestIdIn)[keyof typeof RequestIdIn];

export class HttpStream implements DownstreamHandler, UpstreamStream, PoolWaiter, BodyFlowSink, ChainHost, CorkedWork, StreamContext {
  readonly requestId: string;
  /** Whether the client sent an x-request-id: when absent or empty the proxy forwards the one it made. */
  private readonly incomingRequestId: RequestIdIn;
  readonly remoteAddress: string;
  readonly startMs: number;
  private readonly listener: HttpListenerContext;
  private readonly downstream: Downstream;
  private readonly head: RequestHead;
  private route: Route | null = NO_ROUTE;
  private chain: FilterChain | null = null;
  filterStates: unknown[] | null = null;
  private attributeMap: Map<string, unknown> | null = null;

  private pool: ConnectionPool | null = null;
  private waitingForPool = false;
  private conn: UpstreamConnection | null = null;
  private connReused = false;
  private retried = false;
  private timer: NodeJS.Timeout | null = null;

  /** Request body chunks received before the upstream connection was ready. */
  private pendingBody: Buffer[] | null = null;
  /** Body phases per direction, made on first use when the chain has any. */
  private requestFlow: BodyFlow | null = null;
  private responseFlow: BodyFlow | null = null;
  private requestFlowPaused = false;
  private responseFlowPaused = false;
  /** `ctx.bufferRequestBody(maxBytes)`: the limit (-1: not buffering), what arrived, and who asked. */
  private bodyBufferLimit = -1;
  private bufferedBody: WholeBody | null = null;
  private bufferingFilter = '';
  /** The request goes upstream only once its buffered body is complete. */
  private upstreamAfterBody = false;
  /** Body chunks (and ends) that arrived while an onRequest phase was pending: body phases run after head phases. */
  private bodyBeforeHeadPhases: (Buffer | boolean)[] | null = null;
  /** The filter whose hook runs now (set by the chain), for replies made on its behalf. */
  currentFilter = '';
  currentFilterIndex = 0;
  /** Every onRequest phase has run: a local reply made from now on passes every filter's onResponse. */
  private requestFiltersDone = false;
  /** A local reply made while its onResponse phases run (a filter replied or failed there): sent as it is. */
  private localReplyFiltering = false;
  /** A local reply waiting for a pending onResponse phase. */
  private pendingLocalReply: { reply: LocalReply; res: ResponseHead } | null = null;
  private pendingBodyBytes = 0;
  private requestBodyReceived: boolean;
  private requestBodyWritten = false;
  private requestHeadWritten = false;
  private waitingUpstreamDrain = false;

  private response: ResponseHead | null = null;
  /** Body chunks (socket views) and completion held while an onResponse filter is pending. */
  private heldBody: Buffer[] | null = null;
  private heldComplete = false;
  private responseHeadPending = false;
  private responseStarted = false;
  private downstreamBlocked = false;
  private status = 0;
  private done = false;

  constructor(listener: HttpListenerContext, downstream: Downstream, head: RequestHead) {
    this.listener = listener;
    this.downstream = downstream;
    this.head = head;
    this.startMs = performance.now();
    this.remoteAddress = downstream.remoteAddress;
    this.requestBodyReceived = !head.hasBody;
    const id = head.headers.get('x-request-id');
    this.incomingRequestId = id === undefined ? RequestIdIn.Absent : id === '' ? RequestIdIn.Empty : RequestIdIn.Present;
    this.requestId = id !== undefined && id !== '' ? id : randomUUID();
    listener.counters.streams++;
    listener.lifecycle.streamStarted(listener.generation);
    downstream.setHandler(this);
  }

  // ── StreamContext ──────────────────────────────────────────────────────────
  get ctx(): StreamContext {
    return this;
  }
  get listenerName(): string {
    return this.listener.name;
  }
  get routeName(): string {
    return this.route?.name ?? '';
  }
  get clusterName(): string {
    return this.route?.cluster?.name ?? '';
  }
  get attributes(): Map<string, unknown> {
    this.attributeMap ??= new Map();
    return this.attributeMap;
  }
  offload<T>(taskUrl: string, input: unknown, transfer: ArrayBuffer[] = [], options: { timeoutMs?: number; maxQueue?: number } = {}): Promise<T> {
    return offload<T>(taskUrl, input, transfer, {
      timeoutMs: options.timeoutMs ?? DEFAULT_OFFLOAD_TIMEOUT_MS,
      maxQueue: options.maxQueue ?? DEFAULT_OFFLOAD_QUEUE,
    });
  }
  bufferRequestBody(maxBytes: number): void {
    if (this.requestBodyReceived || this.route === null) return;
    if (this.bodyBufferLimit < 0 || maxBytes < this.bodyBufferLimit) {
      this.bodyBufferLimit = maxBytes;
      this.bufferingFilter = this.currentFilter;
    }
    const expected = this.head.contentLength;
    this.bufferedBody ??= new WholeBody(expected >= 0 && expected <= this.bodyBufferLimit ? expected : -1);
  }

  // ── request path ───────────────────────────────────────────────────────────
  start(): void {
    const head = this.head;
    const headers = head.headers;
    if (this.incomingRequestId !== RequestIdIn.Present) {
      // An empty incoming value is replaced, not forwarded beside (or instead of) the id the proxy logs.
      if (this.incomingRequestId === RequestIdIn.Empty) headers.remove('x-request-id');
      headers.pushTrusted('x-request-id', this.requestId);
    }
    // Our own values (the peer address, a validated Host): no need to validate them again.
    headers.appendTrusted('x-forwarded-for', this.remoteAddress);
    headers.appendTrusted('x-forwarded-proto', 'http');
    const host = head.host;
    if (host !== '') headers.appendTrusted('x-forwarded-host', host);

    const route = this.listener.router.match(head);
    if (route === null) {
      this.replyFailure(ErrorKinds.routeNotFound, 'router');
      return;
    }
    this.route = route;
    const chain = route.chain;
    this.chain = chain;
    if (!chain.isEmpty) {
      this.filterStates = chain.newStates();
      const r = chain.runHead('onRequest', head, this);
      if (r === ChainResult.Pending) this.bodyBeforeHeadPhases = [];
      if (r !== ChainResult.Continue) return;
    }
    this.afterRequestFilters();
  }

  private afterRequestFilters(): void {
    if (this.done) return;
    this.requestFiltersDone = true;
    const route = this.route as Route;
    if (route.directResponse !== null) {
      const d = route.directResponse;
      this.sendLocalReply({ status: d.status, component: 'direct-response', body: d.body, headers: d.headers as string[] });
      return;
    }
    const head = this.head;
    if (route.prefixRewrite !== undefined && route.match.pathPrefix !== undefined) {
      head.path = route.prefixRewrite + head.path.slice(route.match.pathPrefix.length);
      if (head.path === '' || head.path.charCodeAt(0) !== 0x2f) head.path = `/${head.path}`;
    }
    if (route.hostRewrite !== undefined) head.headers.set('host', route.hostRewrite);
    // Like Envoy, the proxy answers Expect itself, once it knows the request goes upstream (not on a local reply).
    if (head.expectContinue && !this.requestBodyReceived) this.downstream.sendContinue();
    if (this.bufferedBody !== null && !this.requestBodyReceived) {
      // A filter wants the whole body first (it may answer, or replace it): upstream waits for it.
      this.upstreamAfterBody = true;
      return;
    }
    this.goUpstream();
  }

  private goUpstream(): void {
    this.timer = setTimeout(onStreamTimeout, (this.route as Route).timeoutMs, this);
    this.acquireConnection(false);
  }

  private acquireConnection(fresh: boolean): void {
    this.waitingForPool = true;
    const pool = (this.route as Route).cluster?.acquire(this, fresh) ?? null;
    if (this.waitingForPool) this.pool = pool;
  }

  onConnectionReady(conn: UpstreamConnection): void {
    this.waitingForPool = false;
    this.pool = null;
    this.conn = conn;
    this.connReused = conn.requestsServed > 0;
    conn.attach(this, this.head.method === 'HEAD', this.head.upgrade !== '');
    const chain = this.chain as FilterChain;
    if (!chain.isEmpty) {
      const r = chain.runHead('onUpstreamRequest', this.head, this);
      if (r !== ChainResult.Continue) return;
    }
    this.writeRequest();
  }

  onPoolFailure(f: StreamFailure): void {
    this.waitingForPool = false;
    this.pool = null;
    this.failUpstream(f);
  }

  private writeRequest(): void {
    const conn = this.conn as UpstreamConnection;
    const text = requestHeadText(this.head);
    this.requestHeadWritten = true;
    if (!this.head.hasBody) {
      // The common case: one write of one string, no cork/writev machinery.
      this.requestBodyWritten = true;
      conn.writeLatin1(text);
      return;
    }
    conn.cork();
    let ok = conn.writeLatin1(text);
    const pending = this.pendingBody;
    if (pending !== null) {
      this.pendingBody = null;
      for (const chunk of pending) ok = this.writeBodyChunk(conn, chunk);
      if (this.pendingBodyBytes > this.listener.maxBufferedRequestBytes) this.downstream.resumeRequestBody();
      this.pendingBodyBytes = 0;
    }
    if (this.requestBodyReceived) this.finishRequestBody(conn);
    conn.uncork();
    if (!ok) this.blockOnUpstream();
  }

  /** Writes one body chunk (pooled memory, released once written) with the body framing chosen. */
  private writeBodyChunk(conn: UpstreamConnection, chunk: Buffer): boolean {
    if (chunk.length === 0) {
      releaseChunk(chunk);
      return true;
    }
    if (!this.head.chunked) return conn.writePooled(chunk);
    conn.write(encodeChunkHeader(chunk.length));
    conn.writePooled(chunk);
    return conn.write(CHUNK_TRAILER_CRLF);
  }

  private finishRequestBody(conn: UpstreamConnection): void {
    if (this.requestBodyWritten) return;
    if (this.head.chunked) conn.write(LAST_CHUNK);
    this.requestBodyWritten = true;
  }

  private blockOnUpstream(): void {
    if (this.requestBodyWritten && !this.tunnel) return;
    this.waitingUpstreamDrain = true;
    this.downstream.pauseRequestBody();
  }

  /** `chunk` is pooled memory (see core/util/chunk-pool.ts): it is released once written, or when dropped. */
  onRequestBody(chunk: Buffer, last: boolean): void {
    if (this.done) {
      releaseChunk(chunk);
      return;
    }
    if (this.tunnel) {
      this.tunnelFromClient(chunk, last);
      return;
    }
    const early = this.bodyBeforeHeadPhases;
    if (early !== null) {
      early.push(chunk, last);
      if (early.length === 2) this.downstream.pauseRequestBody();
      return;
    }
    if (this.bufferedBody !== null) {
      this.bufferBody(chunk, last);
      return;
    }
    const chain = this.chain;
    if (chain?.hasRequestBody) {
      // A filter may keep the chunk: it gets memory of its own, and the pooled copy goes back at once.
      const own = Buffer.from(chunk);
      releaseChunk(chunk);
      this.requestBodyFlow(chain).push(own, last);
      return;
    }
    this.forwardRequestData(chunk, last);
  }

  /** Gathers the body a filter asked for whole; past its limit the stream is answered 413. */
  private bufferBody(chunk: Buffer, last: boolean): void {
    const body = this.bufferedBody as WholeBody;
    const fits = body.size + chunk.length <= this.bodyBufferLimit;
    if (fits) body.add(chunk);
    releaseChunk(chunk);
    if (!fits) {
      this.bufferedBody = null;
      this.failureCode = ErrorKinds.requestBodyTooLarge.code;
      this.sendLocalReply(localReplyFor(ErrorKinds.requestBodyTooLarge, this.bufferingFilter || 'filter'));
      return;
    }
    if (!last) return;
    this.bufferedBody = null;
    const whole = body.take();
    const chain = this.chain as FilterChain;
    if (chain.hasRequestBody) this.requestBodyFlow(chain).push(whole, true);
    else this.forwardRequestData(whole, true);
  }

  private requestBodyFlow(chain: FilterChain): BodyFlow {
    this.requestFlow ??= new BodyFlow(chain, 'request', this, this);
    return this.requestFlow;
  }

  private responseBodyFlow(chain: FilterChain): BodyFlow {
    this.responseFlow ??= new BodyFlow(chain, 'response', this, this);
    return this.responseFlow;
  }

  deliverBody(direction: BodyDirection, data: Buffer, end: boolean): void {
    if (this.done) return;
    if (direction === 'request') this.forwardRequestData(data, end);
    else this.deliverResponseData(data, end);
  }

  pauseBodySource(direction: BodyDirection): void {
    if (direction === 'request') {
      this.requestFlowPaused = true;
      this.downstream.pauseRequestBody();
    } else {
      this.responseFlowPaused = true;
      this.conn?.pauseReading();
    }
  }

  resumeBodySource(direction: BodyDirection): void {
    if (this.done) return;
    if (direction === 'request') {
      this.requestFlowPaused = false;
      if (!this.waitingUpstreamDrain) this.downstream.resumeRequestBody();
    } else {
      this.responseFlowPaused = false;
      if (!this.downstreamBlocked && !this.responseHeadPending) this.conn?.resumeReading();
    }
  }

  /** Request body bytes every filter passed: to the upstream, or held until the connection is ready. */
  private forwardRequestData(data: Buffer, last: boolean): void {
    if (last) this.requestBodyReceived = true;
    if (this.upstreamAfterBody) {
      // The buffered body is complete: it goes up with a Content-Length (filters may have changed its size).
      this.upstreamAfterBody = false;
      this.head.chunked = false;
      this.head.contentLength = data.length;
      if (data.length > 0) {
        this.pendingBody = [data];
        this.pendingBodyBytes = data.length;
      }
      this.goUpstream();
      return;
    }
    const conn = this.conn;
    if (conn === null || !this.requestHeadWritten) {
      if (data.length > 0) {
        this.pendingBody ??= [];
        this.pendingBody.push(data);
        const before = this.pendingBodyBytes;
        this.pendingBodyBytes += data.length;
        const limit = this.listener.maxBufferedRequestBytes;
        if (before <= limit && this.pendingBodyBytes > limit) this.downstream.pauseRequestBody();
      } else {
        releaseChunk(data);
      }
      return;
    }
    const ok = this.writeBodyChunk(conn, data);
    if (last) this.finishRequestBody(conn);
    if (!ok) this.blockOnUpstream();
  }

  onUpstreamWritable(): void {
    if (!this.waitingUpstreamDrain) return;
    this.waitingUpstreamDrain = false;
    if (!this.requestFlowPaused) this.downstream.resumeRequestBody();
  }

  // ── response path ──────────────────────────────────────────────────────────
  /** Parsing of upstream bytes runs with the downstream corked: head and body leave in one write. */
  corkDownstream(work: CorkedWork): void {
    this.downstream.runCorked(work);
  }

  onResponseHead(res: ResponseHead): void {
    this.response = res;
    if (res.status === 101) {
      this.startTunnel(res);
      return;
    }
    const chain = this.chain as FilterChain;
    if (!chain.isEmpty) {
      const r = chain.runHead('onResponse', res, this);
      if (r === ChainResult.Pending) {
        this.responseHeadPending = true;
        this.heldBody = [];
        this.conn?.pauseReading();
        return;
      }
      if (r === ChainResult.Replied) return;
    }
    this.writeResponseHead(res);
  }

  private writeResponseHead(res: ResponseHead): void {
    const headers = res.headers;
    stripHopByHop(headers, DOWNSTREAM_FRAMING);
    const chain = this.chain as FilterChain;
    // A filter that rewrites body chunks changes the length: let the engine frame the body as chunked.
    const contentLength = chain.hasResponseBody && !res.bodyless ? -1 : res.contentLength;
    this.status = res.status;
    this.responseStarted = true;
    // While draining, every response tells the client not to reuse the connection.
    const close = this.listener.lifecycle.draining;
    if (close) headers.pushTrusted('connection', 'close');
    this.downstream.writeHead(res.status, res.reason || reasonPhrase(res.status), headers, contentLength, res.bodyless, close);
  }

  onResponseBody(chunk: Buffer): void {
    if (this.responseHeadPending) {
      // The chunk is a view of the shared read buffer: keeping it past this call needs a copy (rare path).
      this.heldBody?.push(Buffer.from(chunk));
      return;
    }
    this.forwardResponseBody(chunk);
  }

  private forwardResponseBody(chunk: Buffer): void {
    const chain = this.chain as FilterChain;
    if (chain.hasResponseBody) {
      // The chunk is a view of the shared read buffer: a filter (or a pause) may keep it, so it gets a copy.
      this.responseBodyFlow(chain).push(Buffer.from(chunk), false);
      return;
    }
    this.writeDownstream(chunk);
  }

  /** Response body bytes every filter passed; `end` completes the response. */
  private deliverResponseData(data: Buffer, end: boolean): void {
    if (data.length > 0) this.writeDownstream(data);
    if (end) this.finishResponse();
  }

  private writeDownstream(data: Buffer): void {
    if (!this.downstream.writeBody(data) && !this.downstreamBlocked) {
      this.downstreamBlocked = true;
      this.conn?.pauseReading();
    }
  }

  onInformational(res: ResponseHead): void {
    if (this.responseStarted) return;
    stripHopByHop(res.headers, DOWNSTREAM_FRAMING);
    this.downstream.writeInformational(res.status, res.reason || reasonPhrase(res.status), res.headers);
  }

  // ── tunnel (after 101 Switching Protocols) ─────────────────────────────────
  private tunnel = false;
  private tunnelClientEnded = false;
  private tunnelUpstreamEnded = false;

  private startTunnel(res: ResponseHead): void {
    const headers = res.headers;
    stripHopByHop(headers, DOWNSTREAM_FRAMING);
    headers.pushTrusted('connection', 'upgrade');
    headers.pushTrusted('upgrade', this.head.upgrade);
    this.status = 101;
    this.responseStarted = true;
    this.tunnel = true;
    // The route timeout bounds an exchange, not a tunnel's lifetime (the engine's tunnel idle timeout does).
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.downstream.writeHead(101, res.reason || reasonPhrase(101), headers, -1, true, false);
    this.downstream.startTunnel();
  }

  /** Tunnel bytes skip the body filters: they are another protocol's frames, not an HTTP body. */
  onUpgradedData(chunk: Buffer): void {
    if (this.done) return;
    this.writeDownstream(chunk);
  }

  onUpgradedEnd(): void {
    if (this.done) return;
    this.tunnelUpstreamEnded = true;
    this.downstream.end();
    if (this.tunnelClientEnded) this.endTunnel();
  }

  private tunnelFromClient(chunk: Buffer, last: boolean): void {
    const conn = this.conn;
    if (conn === null) {
      releaseChunk(chunk);
      return;
    }
    if (chunk.length > 0 && !conn.writePooled(chunk)) this.blockOnUpstream();
    else if (chunk.length === 0) releaseChunk(chunk);
    if (last) {
      this.tunnelClientEnded = true;
      conn.endWriting();
      if (this.tunnelUpstreamEnded) this.endTunnel();
    }
  }

  private endTunnel(): void {
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    this.finish(true, '');
  }

  onDownstreamWritable(): void {
    if (!this.downstreamBlocked) return;
    this.downstreamBlocked = false;
    if (!this.responseHeadPending && !this.responseFlowPaused) this.conn?.resumeReading();
  }

  onResponseComplete(): void {
    if (this.responseHeadPending) {
      this.heldComplete = true;
      return;
    }
    this.completeResponse();
  }

  private completeResponse(): void {
    const chain = this.chain as FilterChain;
    if (chain.hasResponseBody) {
      this.responseBodyFlow(chain).push(EMPTY, true);
      return;
    }
    this.finishResponse();
  }

  private finishResponse(): void {
    const conn = this.conn;
    this.conn = null;
    conn?.release(this.requestBodyWritten);
    this.downstream.end();
    this.finish(true, '');
  }

  onPhaseResumed(phase: 'onRequest' | 'onUpstreamRequest' | 'onResponse'): void {
    if (this.done) return;
    if (phase === 'onRequest') {
      const early = this.bodyBeforeHeadPhases;
      this.bodyBeforeHeadPhases = null;
      this.afterRequestFilters();
      if (early === null || early.length === 0) return;
      for (let i = 0; i < early.length && !this.done; i += 2) this.onRequestBody(early[i] as Buffer, early[i + 1] as boolean);
      if (!this.done && !this.requestFlowPaused && !this.waitingUpstreamDrain) this.downstream.resumeRequestBody();
    } else if (phase === 'onUpstreamRequest') this.writeRequest();
    else if (this.pendingLocalReply !== null) {
      const { reply, res } = this.pendingLocalReply;
      this.pendingLocalReply = null;
      this.writeLocalReply(reply, res.headers.entries);
    } else this.downstream.runCorked(this);
  }

  /** Runs with the downstream corked after a pending onResponse filter settled: flush what was held. */
  runCorked(): void {
    if (this.done || !this.responseHeadPending) return;
    this.responseHeadPending = false;
    this.writeResponseHead(this.response as ResponseHead);
    const held = this.heldBody;
    this.heldBody = null;
    if (held !== null) for (const chunk of held) this.forwardResponseBody(chunk);
    if (this.heldComplete) this.completeResponse();
    else if (!this.downstreamBlocked) this.conn?.resumeReading();
  }

  // ── failures ───────────────────────────────────────────────────────────────
  onUpstreamFailure(f: StreamFailure): void {
    this.conn = null;
    if (this.done) return;
    if (this.responseStarted) {
      this.listener.counters.upstreamFailures++;
      if (log.isLevelEnabled('debug')) log.debug({ requestId: this.requestId, code: f.kind.code, detail: f.detail }, 'upstream failed mid-response');
      this.downstream.close();
      this.finish(false, f.kind.code);
      return;
    }
    // A reused keep-alive connection the server closed just as we sent: safe to retry once, on a fresh
    // connection, when nothing of the request body can have been consumed.
    if (f.kind === ErrorKinds.upstreamResetBeforeResponse && this.connReused && !this.retried && !this.head.hasBody) {
      this.retried = true;
      this.requestHeadWritten = false;
      this.acquireConnection(true);
      return;
    }
    this.failUpstream(f);
  }

  private failUpstream(f: StreamFailure): void {
    this.listener.counters.upstreamFailures++;
    if (log.isLevelEnabled('debug')) log.debug({ requestId: this.requestId, code: f.kind.code, detail: f.detail }, 'upstream failed');
    this.replyFailure(f.kind, 'upstream');
  }

  onTimeout(): void {
    this.timer = null;
    if (this.done) return;
    this.cancelWait();
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    if (this.responseStarted) {
      this.downstream.close();
      this.finish(false, ErrorKinds.upstreamResponseTimeout.code);
      return;
    }
    this.replyFailure(ErrorKinds.upstreamResponseTimeout, 'upstream');
  }

  onDownstreamAborted(): void {
    if (this.done) return;
    this.cancelWait();
    const conn = this.conn;
    this.conn = null;
    // The upstream connection is mid-exchange: it cannot be reused, so it is closed.
    conn?.destroy();
    this.finish(false, 'downstream_aborted');
  }

  onFilterReply(reply: LocalReply): void {
    this.sendLocalReply(reply);
  }

  onFilterFailure(f: FilterFailure): void {
    const counters = this.listener.counters;
    counters.filterFailures++;
    counters.filterFailuresByFilter[f.filter] = (counters.filterFailuresByFilter[f.filter] ?? 0) + 1;
    log.error({ requestId: this.requestId, filter: f.filter, err: f.error }, 'filter failed');
    if (this.responseStarted) {
      const conn = this.conn;
      this.conn = null;
      conn?.destroy();
      this.downstream.close();
      this.finish(false, ErrorKinds.filterError.code);
      return;
    }
    this.replyFailure(ErrorKinds.filterError, f.filter);
  }

  private replyFailure(kind: ErrorKind, component: string): void {
    this.failureCode = kind.code;
    this.sendLocalReply(localReplyFor(kind, component));
  }

  private failureCode = '';
  private localComponent = '';

  private sendLocalReply(reply: LocalReply): void {
    if (this.done) return;
    this.cancelWait();
    const conn = this.conn;
    this.conn = null;
    conn?.destroy();
    if (this.responseStarted || this.downstream.isClosed) {
      this.downstream.close();
      this.finish(false, this.failureCode);
      return;
    }
    const headers = ['x-mantou-local-reply', reply.component, 'x-request-id', this.requestId];
    if (reply.headers !== undefined) headers.push(...reply.headers);
    if (!reply.headers?.includes('content-type')) headers.push('content-type', 'text/plain; charset=utf-8');
    // Like Envoy's encoder filters: the response phases of the filters whose request phase ran see a local reply
    // too (CORS headers on a 429, a server-timing on a 401). The filter that answered, and those after it, do not.
    const chain = this.chain;
    const ran = this.requestFiltersDone ? (chain?.filters.length ?? 0) : this.currentFilterIndex;
    if (chain !== null && ran > 0 && !this.localReplyFiltering && this.pendingLocalReply === null) {
      this.localReplyFiltering = true;
      const res = new ResponseHead(reply.status, reasonPhrase(reply.status), new HeaderList(headers), Buffer.byteLength(reply.body), false);
      const r = chain.runHead('onResponse', res, this, ran - 1);
      if (r === ChainResult.Pending) {
        this.pendingLocalReply = { reply, res };
        return;
      }
      // Replied: a filter answered (or failed) in its onResponse, and that reply went out instead.
      if (r === ChainResult.Replied || this.done) return;
      this.writeLocalReply(reply, res.headers.entries);
      return;
    }
    this.writeLocalReply(reply, headers);
  }

  private writeLocalReply(reply: LocalReply, headers: readonly string[]): void {
    if (this.done) return;
    this.listener.counters.localReplies++;
    this.localComponent = reply.component;
    this.status = reply.status;
    this.responseStarted = true;
    const close = reply.closeConnection === true || this.listener.lifecycle.draining;
    this.downstream.respond(reply.status, reasonPhrase(reply.status), headers, reply.body, close, this.head.method === 'HEAD');
    this.finish(true, this.failureCode);
  }

  private cancelWait(): void {
    if (this.waitingForPool) {
      this.waitingForPool = false;
      this.pool?.cancel(this);
      this.pool = null;
    }
  }

  private finish(completed: boolean, failureCode: string): void {
    if (this.done) return;
    this.done = true;
    this.requestFlow?.stop();
    this.responseFlow?.stop();
    this.listener.lifecycle.streamFinished(this.listener.generation);
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pendingBody !== null) {
      for (const chunk of this.pendingBody) releaseChunk(chunk);
      this.pendingBody = null;
    }
    const chain = this.chain;
    if (chain?.hasDone) {
      const outcome: StreamOutcome = {
        status: this.status,
        failureCode,
        localReplyComponent: this.localComponent,
        completed,
        durationMs: performance.now() - this.startMs,
      };
      chain.runDone(outcome, this, logDoneFailure);
    }
  }
}

const EMPTY = Buffer.alloc(0);
const DEFAULT_OFFLOAD_TIMEOUT_MS = 5000;
const DEFAULT_OFFLOAD_QUEUE = 64;

function onStreamTimeout(stream: HttpStream): void {
  stream.onTimeout();
}

function logDoneFailure(f: FilterFailure): void {
  log.error({ filter: f.filter, err: f.error }, 'filter onDone failed');
}
