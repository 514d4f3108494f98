// One request/response exchange: route → request filters → cluster → pooled upstream connection → response
// filters (reverse) → downstream. The stream is itself the pool waiter, the upstream parser's handler, the
// filter chain's host and the downstream's handler, so the hot path allocates no per-request closures.
// Its parts: stream-base.ts (state, StreamContext, local replies, the end), stream-request-path.ts (routing, the
// request and its body, upstream failures), and this file: the response head and body, body-filter flows, the
// tunnel after a 101, and what resumes after a paused phase.

import { releaseChunk } from '../util/chunk-pool.ts';
import { type BodyDirection, BodyFlow } from './body-flow.ts';
import type { CorkedWork } from './downstream.ts';
import { ChainResult, type FilterChain } from './filter-chain.ts';
import { DOWNSTREAM_FRAMING, stripHopByHop } from './header-rules.ts';
import { reasonPhrase } from './local-reply.ts';
import type { ResponseHead } from './response-head.ts';
import { StreamRequestPath } from './stream-request-path.ts';

export type { HttpListenerContext } from './stream-base.ts';
export type { StreamCounters } from './stream-counters.ts';

export class HttpStream extends StreamRequestPath implements CorkedWork {
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

  protected tunnelFromClient(chunk: Buffer, last: boolean): void {
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
      stripHopByHop(res.headers, DOWNSTREAM_FRAMING);
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
}

const EMPTY = Buffer.alloc(0);
