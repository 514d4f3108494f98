// One HTTP stream's state and what every part of it shares: the StreamContext filters see, the one way a stream
// answers locally (sendLocalReply: through the onResponse phases of the filters that ran) and the one way it ends
// (finish: counters, timers, pooled memory, onDone). The request path (stream-request-path.ts) and the response
// path (http-stream.ts) extend it; only HttpStream is ever made, so every call site stays monomorphic.

import { randomUUID } from 'node:crypto';
import { type ErrorKind, ErrorKinds, type StreamFailure } from '../errors.ts';
import type { GenerationState, WorkerLifecycle } from '../lifecycle.ts';
import { componentLogger } from '../logger.ts';
import { offloadForFilter } from '../offload/offload-pool.ts';
import type { ConnectionPool, PoolWaiter } from '../upstream/connection-pool.ts';
import type { UpstreamConnection } from '../upstream/upstream-connection.ts';
import { releaseChunk } from '../util/chunk-pool.ts';
import type { BodyFlow } from './body-flow.ts';
import type { Downstream, DownstreamHandler } from './downstream.ts';
import { type ChainHost, ChainResult, type FilterChain, type FilterFailure } from './filter-chain.ts';
import { HeaderList } from './header-list.ts';
import { DOWNSTREAM_FRAMING, stripHopByHop } from './header-rules.ts';
import { type LocalReply, localReplyFor, localReplyHeaders, reasonPhrase } from './local-reply.ts';
import type { NetEngineSettings } from './net-settings.ts';
import { type RequestIdIn, requestIdIn } from './proxy-fields.ts';
import type { RequestHead } from './request-head.ts';
import { ResponseHead } from './response-head.ts';
import type { Route, Router } from './router.ts';
import type { StreamContext, StreamOutcome } from './stream-context.ts';
import { countFilterFailure, type StreamCounters } from './stream-counters.ts';
import { WholeBody } from './whole-body.ts';

export const log = componentLogger('http-stream');

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

const NO_ROUTE: Route | null = null;

export abstract class StreamBase implements StreamContext, ChainHost, DownstreamHandler, PoolWaiter {
  readonly requestId: string;
  /** Whether the client sent an x-request-id: when absent or empty the proxy forwards the one it made. */
  protected readonly incomingRequestId: RequestIdIn;
  readonly remoteAddress: string;
  readonly startMs: number;
  protected readonly listener: HttpListenerContext;
  protected readonly downstream: Downstream;
  protected readonly head: RequestHead;
  protected route: Route | null = NO_ROUTE;
  protected chain: FilterChain | null = null;
  filterStates: unknown[] | null = null;
  protected attributeMap: Map<string, unknown> | null = null;

  protected pool: ConnectionPool | null = null;
  protected waitingForPool = false;
  protected conn: UpstreamConnection | null = null;
  protected connReused = false;
  protected retried = false;
  protected timer: NodeJS.Timeout | null = null;

  /** Request body chunks received before the upstream connection was ready. */
  protected pendingBody: Buffer[] | null = null;
  /** Body phases per direction, made on first use when the chain has any. */
  protected requestFlow: BodyFlow | null = null;
  protected responseFlow: BodyFlow | null = null;
  protected requestFlowPaused = false;
  protected responseFlowPaused = false;
  /** `ctx.bufferRequestBody(maxBytes)`: the limit (-1: not buffering), what arrived, and who asked. */
  protected bodyBufferLimit = -1;
  protected bufferedBody: WholeBody | null = null;
  protected bufferingFilter = '';
  /** The request goes upstream only once its buffered body is complete. */
  protected upstreamAfterBody = false;
  /** Body chunks (and ends) that arrived while an onRequest phase was pending: body phases run after head phases. */
  protected bodyBeforeHeadPhases: (Buffer | boolean)[] | null = null;
  /** The filter whose hook runs now (set by the chain), for replies made on its behalf. */
  currentFilter = '';
  currentFilterIndex = 0;
  /** Every onRequest phase has run: a local reply made from now on passes every filter's onResponse. */
  protected requestFiltersDone = false;
  /** A local reply made while its onResponse phases run (a filter replied or failed there): sent as it is. */
  protected localReplyFiltering = false;
  /**
   * A filter replied (or failed) in its onResponse on the upstream's head: its index. Its reply passes the
   * onResponse of the filters before it only, as a reply made in onRequest does; -1 otherwise.
   */
  protected replyingFilter = -1;
  /** A local reply waiting for a pending onResponse phase. */
  protected pendingLocalReply: { reply: LocalReply; res: ResponseHead } | null = null;
  protected pendingBodyBytes = 0;
  protected requestBodyReceived: boolean;
  protected requestBodyWritten = false;
  protected requestHeadWritten = false;
  protected waitingUpstreamDrain = false;

  protected response: ResponseHead | null = null;
  /** Body chunks (socket views) and completion held while an onResponse filter is pending. */
  protected heldBody: Buffer[] | null = null;
  protected heldComplete = false;
  protected responseHeadPending = false;
  protected responseStarted = false;
  protected downstreamBlocked = false;
  protected status = 0;
  protected done = false;
  protected tunnel = false;
  protected tunnelClientEnded = false;
  protected tunnelUpstreamEnded = false;

  protected failureCode = '';
  protected localComponent = '';

  constructor(listener: HttpListenerContext, downstream: Downstream, head: RequestHead) {
    this.listener = listener;
    this.downstream = downstream;
    this.head = head;
    this.startMs = performance.now();
    this.remoteAddress = downstream.remoteAddress;
    this.requestBodyReceived = !head.hasBody;
    const id = head.headers.get('x-request-id');
    this.incomingRequestId = requestIdIn(id);
    this.requestId = id !== undefined && id !== '' ? id : randomUUID();
    listener.counters.streams++;
    listener.lifecycle.streamStarted(listener.generation);
    downstream.setHandler(this);
  }

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
    return offloadForFilter<T>(taskUrl, input, transfer, options);
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

  /** The upstream's response head arrived and is not written yet: it is in its onResponse phases. */
  private get inUpstreamResponsePhase(): boolean {
    return this.response !== null && !this.responseStarted;
  }

  onFilterReply(reply: LocalReply): void {
    if (this.inUpstreamResponsePhase) this.replyingFilter = this.currentFilterIndex;
    this.sendLocalReply(reply);
  }

  onDoneFailure(f: FilterFailure): void {
    doneFailed(this.listener.counters, this.requestId, f);
  }

  onFilterFailure(f: FilterFailure): void {
    countFilterFailure(this.listener.counters, f.filter);
    log.error({ requestId: this.requestId, filter: f.filter, err: f.error }, 'filter failed');
    if (this.responseStarted) {
      const conn = this.conn;
      this.conn = null;
      conn?.destroy();
      this.downstream.close();
      this.finish(false, ErrorKinds.filterError.code);
      return;
    }
    if (this.inUpstreamResponsePhase) this.replyingFilter = this.currentFilterIndex;
    this.replyFailure(ErrorKinds.filterError, f.filter);
  }

  protected replyFailure(kind: ErrorKind, component: string): void {
    this.failureCode = kind.code;
    this.sendLocalReply(localReplyFor(kind, component));
  }

  protected sendLocalReply(reply: LocalReply): void {
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
    const headers = localReplyHeaders(reply, this.requestId);
    // Like Envoy's encoder filters: the response phases of the filters whose request phase ran see a local reply
    // too (CORS headers on a 429, a server-timing on a 401). The filter that answered, and those after it, do not.
    const chain = this.chain;
    const ran = this.replyingFilter >= 0 ? this.replyingFilter : this.requestFiltersDone ? (chain?.filters.length ?? 0) : this.currentFilterIndex;
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
      // The reply's framing is the engine's (a filter's content-length would be a second one).
      stripHopByHop(res.headers, DOWNSTREAM_FRAMING);
      this.writeLocalReply(reply, res.headers.entries);
      return;
    }
    this.writeLocalReply(reply, headers);
  }

  protected writeLocalReply(reply: LocalReply, headers: readonly string[]): void {
    if (this.done) return;
    this.listener.counters.localReplies++;
    this.localComponent = reply.component;
    this.status = reply.status;
    this.responseStarted = true;
    const close = reply.closeConnection === true || this.listener.lifecycle.draining;
    this.downstream.respond(reply.status, reasonPhrase(reply.status), headers, reply.body, close, this.head.method === 'HEAD');
    this.finish(true, this.failureCode);
  }

  protected cancelWait(): void {
    if (this.waitingForPool) {
      this.waitingForPool = false;
      this.pool?.cancel(this);
      this.pool = null;
    }
  }

  protected finish(completed: boolean, failureCode: string): void {
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
      chain.runDone(outcome, this);
    }
  }

  // What the parts below implement (declared here: the constructor registers the stream with its downstream, and
  // cancelWait hands it back to its pool).
  /** A paused head phase finished with "continue" (the response path decides what comes next). */
  abstract onPhaseResumed(phase: 'onRequest' | 'onUpstreamRequest' | 'onResponse'): void;
  abstract onRequestBody(chunk: Buffer, last: boolean): void;
  abstract onDownstreamWritable(): void;
  abstract onDownstreamAborted(): void;
  abstract onConnectionReady(conn: UpstreamConnection): void;
  abstract onPoolFailure(f: StreamFailure): void;
}

/** An onDone hook threw: counted and logged; the other filters' hooks still run (FilterChain.runDone). */
export function doneFailed(counters: StreamCounters, requestId: string, f: FilterFailure): void {
  countFilterFailure(counters, f.filter);
  log.error({ requestId, filter: f.filter, err: f.error }, 'filter onDone failed');
}
