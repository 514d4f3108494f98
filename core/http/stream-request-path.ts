// The request side of an HTTP stream: routing and request filters, the upstream connection from the cluster's
// pool, the request head and body written with backpressure (held while no connection is ready, gathered whole
// when a filter asked for it), and the upstream failures that can still be answered locally (or retried once).

import { ErrorKinds, type StreamFailure } from '../errors.ts';
import type { PoolWaiter } from '../upstream/connection-pool.ts';
import { CHUNK_TRAILER_CRLF, encodeChunkHeader, LAST_CHUNK, requestHeadText } from '../upstream/request-encoder.ts';
import type { UpstreamConnection, UpstreamStream } from '../upstream/upstream-connection.ts';
import { releaseChunk } from '../util/chunk-pool.ts';
import { type BodyDirection, BodyFlow, type BodyFlowSink } from './body-flow.ts';
import type { CorkedWork } from './downstream.ts';
import { ChainResult, type FilterChain } from './filter-chain.ts';
import { localReplyFor } from './local-reply.ts';
import { addProxyFields } from './proxy-fields.ts';
import type { ResponseHead } from './response-head.ts';
import type { Route } from './router.ts';
import { log, StreamBase } from './stream-base.ts';
import type { WholeBody } from './whole-body.ts';

export abstract class StreamRequestPath extends StreamBase implements PoolWaiter, BodyFlowSink, UpstreamStream {
  // ── request path ───────────────────────────────────────────────────────────
  start(): void {
    const head = this.head;
    addProxyFields(head, this.requestId, this.incomingRequestId, this.remoteAddress);

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

  protected afterRequestFilters(): void {
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

  protected goUpstream(): void {
    this.timer = setTimeout(onStreamTimeout, (this.route as Route).timeoutMs, this);
    this.acquireConnection(false);
  }

  protected acquireConnection(fresh: boolean): void {
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

  protected writeRequest(): void {
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
  protected writeBodyChunk(conn: UpstreamConnection, chunk: Buffer): boolean {
    if (chunk.length === 0) {
      releaseChunk(chunk);
      return true;
    }
    if (!this.head.chunked) return conn.writePooled(chunk);
    conn.write(encodeChunkHeader(chunk.length));
    conn.writePooled(chunk);
    return conn.write(CHUNK_TRAILER_CRLF);
  }

  protected finishRequestBody(conn: UpstreamConnection): void {
    if (this.requestBodyWritten) return;
    if (this.head.chunked) conn.write(LAST_CHUNK);
    this.requestBodyWritten = true;
  }

  protected blockOnUpstream(): void {
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
  protected bufferBody(chunk: Buffer, last: boolean): void {
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

  protected requestBodyFlow(chain: FilterChain): BodyFlow {
    this.requestFlow ??= new BodyFlow(chain, 'request', this, this);
    return this.requestFlow;
  }

  /** Request body bytes every filter passed: to the upstream, or held until the connection is ready. */
  protected forwardRequestData(data: Buffer, last: boolean): void {
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

  protected failUpstream(f: StreamFailure): void {
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

  // The response path (http-stream.ts) implements these: the connection attached here reports to the stream.
  abstract onResponseHead(head: ResponseHead): void;
  abstract onResponseBody(chunk: Buffer): void;
  abstract onResponseComplete(): void;
  abstract onInformational(head: ResponseHead): void;
  abstract onUpgradedData(chunk: Buffer): void;
  abstract onUpgradedEnd(): void;
  abstract corkDownstream(work: CorkedWork): void;
  /** Client bytes of an upgraded connection (the response path owns the tunnel). */
  protected abstract tunnelFromClient(chunk: Buffer, last: boolean): void;
  abstract deliverBody(direction: BodyDirection, data: Buffer, end: boolean): void;
  abstract pauseBodySource(direction: BodyDirection): void;
  abstract resumeBodySource(direction: BodyDirection): void;
}

function onStreamTimeout(stream: StreamRequestPath): void {
  stream.onTimeout();
}
