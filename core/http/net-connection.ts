// One client connection of the `net` engine: bytes in through the strict request parser, one HttpStream at a time
// (pipelined requests wait, unparsed, until the response before them is complete), responses out through the
// writer, and the connection's own deadlines (head, body stall, whole request, keep-alive idle, tunnel idle),
// checked by the listener's sweep. It is the Downstream of the stream it serves. A connection the native engine
// handed over goes back to it between requests (tryHandBack), after 2^bounces of them.

import type net from 'node:net';
import { componentLogger } from '../logger.ts';
import { copyToPooledChunk } from '../util/chunk-pool.ts';
import { ReadGate } from '../util/read-gate.ts';
import { adoptWithSharedReadBuffer, descriptorWithSharedReadBuffer, READ_BUFFER_BYTES } from './accepted-socket.ts';
import type { CorkedWork, Downstream, DownstreamHandler } from './downstream.ts';
import type { HeaderList } from './header-list.ts';
import { type HttpListenerContext, HttpStream } from './http-stream.ts';
import { FORWARDED_METHODS } from './http-tokens.ts';
import { ENGINE_REPLY_HEADERS, reasonPhrase } from './local-reply.ts';
import { NetResponseWriter } from './net-response-writer.ts';
import { requestHeadFromParsed } from './parsed-request-head.ts';
import { type ParsedRequest, RequestParser, type RequestParserHandler } from './request-parser.ts';

const log = componentLogger('net-engine');

/**
 * Gives a connection back to the native engine between two requests: its descriptor (the engine serves a copy; the
 * caller closes its own), the bytes read of the next request, and `bounces` as the engine passed it. False: refused
 * (the listener is draining or closed), the connection stays.
 */
export type HandBack = (fd: number, pending: Buffer, bounces: number) => boolean;

/**
 * A connection handed over `bounces` times in a row at its first request back gets handed back after 2^bounces
 * requests (capped): a client whose requests all need this engine costs a handover for each doubling, not for each
 * request, and one that needed it once (a route with filters, then plain ones) is back on the C path after it.
 */
const MAX_BOUNCE_EXPONENT = 16;

/** What a connection needs of its listener. */
export interface NetConnectionOwner {
  /** Set when the native engine owns the port and has a route of its own to serve: it takes connections back. */
  readonly handBack: HandBack | null;
  /** The current generation's context: each new request takes it at its head. */
  readonly context: HttpListenerContext;
  /** Coarse clock (ms), advanced by the listener's sweep: deadlines need no clock read per read. */
  now(): number;
  connectionClosed(conn: NetConnection): void;
}

export const Deadline = { None: 0, Head: 1, Body: 2, Idle: 3, Tunnel: 4, Linger: 5 } as const;
export type Deadline = (typeof Deadline)[keyof typeof Deadline];

/** How long a connection we are closing may take to read our last response before it is destroyed. */
const LINGER_MS = 2000;
/** How long a client may take to read the last response of a connection we close (nginx send_timeout). */
const SEND_TIMEOUT_MS = 60_000;
const EMPTY = Buffer.alloc(0);

export class NetConnection implements Downstream, RequestParserHandler {
  readonly remoteAddress: string;
  private readonly socket: net.Socket;
  private readonly owner: NetConnectionOwner;
  private readonly writer: NetResponseWriter;
  private parser: RequestParser;
  private handler: DownstreamHandler | null = null;
  private closed = false;
  /** We sent (or are sending) our last bytes and wait for the client to go. */
  private closing = false;
  private corkDepth = 0;
  private inExecute = false;
  /** Unparsed bytes held while a response is pending (pipelining) or the stream paused the body. */
  private pending: Buffer | null = null;
  /** The socket's reads: paused by us (pipelining, backpressure) or for a turn of the event loop (large bodies). */
  private readonly reads: ReadGate;
  /** The last response is still queued on a client that does not read: the next request waits for 'drain'. */
  private inputAwaitsDrain = false;
  private bodyPaused = false;
  private tunnel = false;
  /** The listener is going away: the response in progress (or the first one) is the connection's last. */
  private closeWhenDone = false;
  private requestsServed = 0;
  private clientEnded = false;
  /** From the native engine: what it said in the handoff, and after how many requests it gets the connection back (0: never). */
  private readonly bounces: number;
  private handBackAt: number;
  /** A response completed with the hand-back count reached: tried once the response is out (corked writes flushed). */
  private handBackDue = false;
  /** An empty write is queued to try the hand-back again once what is before it is written. */
  private handBackQueued = false;

  // The request being served.
  private active = false;
  private requestComplete = true;
  private responseDone = true;
  private http10 = false;
  private keepAlive = true;
  private expectContinue = false;
  private isHead = false;
  private upgradeAsked = false;

  /** Which deadline is armed and when it expires (the owner's clock). */
  deadlineKind: Deadline = Deadline.Head;
  deadlineAt = 0;
  /** When the current request's first byte arrived (for the whole-request timeout). */
  private requestStartMs = 0;

  /**
   * `accepted` comes paused from the listener, or is a descriptor the native engine handed over with `initial`, the
   * bytes it read and did not serve. Reads arrive as views of a shared buffer (accepted-socket.ts).
   */
  constructor(accepted: net.Socket | number, owner: NetConnectionOwner, initial?: Buffer, bounces = 0) {
    const onRead = (chunk: Buffer) => this.onData(chunk);
    const socket = typeof accepted === 'number' ? descriptorWithSharedReadBuffer(accepted, onRead) : adoptWithSharedReadBuffer(accepted, true, onRead);
    this.socket = socket;
    this.reads = new ReadGate(socket, READ_BUFFER_BYTES);
    this.owner = owner;
    this.bounces = bounces;
    this.handBackAt = typeof accepted === 'number' && owner.handBack !== null ? 2 ** Math.min(bounces, MAX_BOUNCE_EXPONENT) : 0;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.writer = new NetResponseWriter(socket);
    const settings = owner.context.net;
    this.parser = new RequestParser(this, settings.limits);
    const now = owner.now();
    this.deadlineAt = now + settings.headerTimeoutMs;
    this.requestStartMs = now;
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', () => {});
    socket.on('close', () => this.onClose());
    // Before any read of the socket's own: those come from the event loop, after this constructor.
    if (initial !== undefined && initial.length > 0) this.onData(initial);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Between requests, nothing of a next one read: safe to close while draining. */
  get isIdle(): boolean {
    return !this.active && this.parser.idle && this.pending === null;
  }

  // ── input ──────────────────────────────────────────────────────────────────
  private onData(buf: Buffer): void {
    if (this.closing || this.closed) return;
    const now = this.owner.now();
    if (this.tunnel) {
      this.deadlineAt = now + this.owner.context.net.tunnelIdleTimeoutMs;
      const handler = this.handler;
      if (handler !== null) handler.onRequestBody(copyToPooledChunk(buf), false);
      return;
    }
    if (this.pending !== null || this.inputAwaitsDrain || (this.active && this.requestComplete)) {
      // A pipelined request behind one still being answered: held, and reading stops until its turn.
      this.hold(buf);
      return;
    }
    if (this.deadlineKind === Deadline.Idle) this.startHeadDeadline(now);
    else if (this.deadlineKind === Deadline.Body) {
      this.deadlineAt = now + this.owner.context.net.bodyTimeoutMs;
      this.reads.countRead(buf.length, true);
    }
    this.feed(buf, false);
  }

  /** The first bytes of a next request: the head timeout and the whole-request clock start. */
  private startHeadDeadline(now: number): void {
    this.deadlineKind = Deadline.Head;
    this.deadlineAt = now + this.owner.context.net.headerTimeoutMs;
    this.requestStartMs = now;
  }

  /** `owned`: `buf` is the connection's own copy (held bytes), not a view of the shared read buffer. */
  private feed(buf: Buffer, owned: boolean): void {
    this.corkDepth++;
    this.inExecute = true;
    const err = this.parser.execute(buf);
    this.inExecute = false;
    if (err !== null) {
      this.corkDepth--;
      this.reject(err.status, err.detail);
      return;
    }
    const consumed = this.parser.consumed;
    if (consumed < buf.length && !this.closed && !this.closing) {
      // Paused: a pipelined request (or the rest of a paused body) waits. A view of the shared read buffer is
      // copied (the next read overwrites it); held bytes fed again are ours already.
      this.pending = owned ? buf.subarray(consumed) : Buffer.from(buf.subarray(consumed));
      this.pauseReading();
      if (this.tunnel) this.deliverTunnelPending();
    }
    this.corkDepth--;
    if (this.corkDepth === 0) {
      this.writer.flush();
      if (this.handBackDue) this.tryHandBack();
    }
  }

  private hold(buf: Buffer): void {
    const pending = this.pending;
    this.pending = pending === null ? Buffer.from(buf) : Buffer.concat([pending, buf]);
    this.pauseReading();
  }

  private pauseReading(): void {
    if (!this.reads.paused) this.reads.pause();
  }

  private resumeReading(): void {
    if (!this.reads.paused || this.closed) return;
    this.reads.resume();
  }

  /** Parses held bytes, then reads again (unless the parser paused once more). Run from process.nextTick. */
  continueInput(): void {
    if (this.closed || this.closing || this.bodyPaused || this.inputAwaitsDrain) return;
    // A request read to its end and still being answered: what is held is the next one, parsed once this response
    // is complete (continueAfterResponse). A body resumed after its last read got here too: a stream whose body
    // was paused while its upstream connection was made resumes the client when the connection is ready.
    if (this.active && this.requestComplete && !this.tunnel) return;
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      if (this.deadlineKind === Deadline.Idle) this.startHeadDeadline(this.owner.now());
      this.feed(pending, true);
      if (this.pending !== null || this.inputAwaitsDrain) return;
    }
    this.resumeReading();
  }

  onRequestHead(req: ParsedRequest): void {
    const context = this.owner.context;
    this.http10 = req.minor === 0;
    this.keepAlive = req.keepAlive;
    this.isHead = req.method === 'HEAD';
    this.expectContinue = req.expectContinue;
    this.requestComplete = !req.chunked && req.contentLength <= 0;
    this.writer.reset();
    if (!FORWARDED_METHODS.has(req.method)) {
      this.parser.pause();
      this.reject(501, `method ${req.method} not implemented`);
      return;
    }
    // Only an HTTP/1.0 request without Host needs the listener's own authority (a getsockname call).
    const head = requestHeadFromParsed(req, req.host === '' ? this.localAuthority() : '', context.net.upgrades);
    this.upgradeAsked = head.upgrade !== '';
    this.active = true;
    this.responseDone = false;
    const now = this.owner.now();
    if (!this.requestComplete) {
      this.deadlineKind = Deadline.Body;
      this.deadlineAt = now + context.net.bodyTimeoutMs;
    } else {
      this.deadlineKind = Deadline.None;
    }
    const stream = new HttpStream(context, this, head);
    // After an upgrade request, the next bytes belong to the tunnel (if the upstream agrees), not to HTTP.
    if (this.upgradeAsked) this.parser.pause();
    stream.start();
  }

  onRequestBody(chunk: Buffer): void {
    // After the response is complete the rest of the body is dropped (the connection then closes).
    if (this.responseDone) return;
    // The stream keeps the chunk until the upstream socket wrote it: out of the shared read buffer, into the pool.
    const handler = this.handler;
    if (handler !== null) handler.onRequestBody(copyToPooledChunk(chunk), false);
  }

  onRequestComplete(): void {
    if (this.requestComplete) {
      // A bodyless request: the stream knew from its head.
      this.afterRequestComplete();
      return;
    }
    this.requestComplete = true;
    if (!this.responseDone) this.handler?.onRequestBody(EMPTY, true);
    this.afterRequestComplete();
  }

  private afterRequestComplete(): void {
    if (this.deadlineKind === Deadline.Body) this.deadlineKind = Deadline.None;
    // Pipelining: the next request waits, unparsed, until this response is complete.
    if (!this.responseDone) this.parser.pause();
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (this.closed) return;
    if (this.tunnel) {
      this.handler?.onRequestBody(EMPTY, true);
      return;
    }
    // Like uWS and nginx, a client that closes its side before its response is complete is taken as gone: the
    // stream is aborted and its upstream connection released, rather than kept for a reader that may not exist
    // (a stalled upstream would otherwise hold it until the route timeout).
    if (this.active) {
      const handler = this.handler;
      this.active = false;
      this.handler = null;
      handler?.onDownstreamAborted();
    }
    this.destroy();
  }

  private onClose(): void {
    const wasClosed = this.closed;
    this.closed = true;
    this.writer.discard();
    this.owner.connectionClosed(this);
    if (!wasClosed && this.active && !this.responseDone) {
      this.active = false;
      this.handler?.onDownstreamAborted();
    } else if (this.tunnel && this.active) {
      this.active = false;
      this.handler?.onDownstreamAborted();
    }
    this.handler = null;
  }

  // ── Downstream ─────────────────────────────────────────────────────────────
  setHandler(handler: DownstreamHandler): void {
    this.handler = handler;
  }

  pauseRequestBody(): void {
    if (this.closed) return;
    this.bodyPaused = true;
    if (this.inExecute) this.parser.pause();
    this.pauseReading();
  }

  resumeRequestBody(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    if (this.pending !== null) process.nextTick(continueInputOf, this);
    else this.resumeReading();
  }

  runCorked(work: CorkedWork): void {
    this.corkDepth++;
    try {
      work.runCorked();
    } finally {
      this.corkDepth--;
      if (this.corkDepth === 0 && !this.closed) {
        this.writer.flush();
        if (this.handBackDue && !this.inExecute) this.tryHandBack();
      }
    }
  }

  writeHead(status: number, reason: string, headers: HeaderList, contentLength: number, bodyless: boolean, closeAfter: boolean): void {
    if (this.closed || this.closing) return;
    // An upgrade the upstream declined leaves the connection in doubt (the client may send its protocol next).
    const close = closeAfter || this.closeWhenDone || !this.requestCompleteOrTunnel(status) || (this.upgradeAsked && status !== 101);
    this.writer.head(status, reason, headers, contentLength, bodyless || this.isHead, this.http10, this.keepAlive, close);
    if (this.corkDepth === 0) this.writer.flush();
  }

  private requestCompleteOrTunnel(status: number): boolean {
    return this.requestComplete || status === 101;
  }

  writeBody(chunk: Buffer): boolean {
    if (this.closed || this.closing) return false;
    const ok = this.writer.body(chunk);
    if (this.corkDepth === 0) this.writer.flush();
    return ok;
  }

  end(): void {
    if (this.closed || this.closing) return;
    if (this.tunnel) {
      // The upstream closed its side of the tunnel: pass the FIN on.
      this.writer.flush();
      this.socket.end();
      return;
    }
    if (!this.writer.finish()) {
      // The upstream sent less than it announced: a short body must not look complete.
      this.close();
      return;
    }
    this.responseComplete();
  }

  respond(status: number, reason: string, headers: readonly string[], body: string, closeConnection: boolean, headOnly = false): void {
    if (this.closed || this.closing) return;
    const close = closeConnection || this.closeWhenDone || !this.keepAlive || !this.requestComplete || this.upgradeAsked;
    this.writer.whole(status, reason, headers, body, headOnly || this.isHead, this.http10, close);
    this.responseComplete();
  }

  close(): void {
    if (this.closed) return;
    this.active = false;
    if (this.writer.started) {
      // A response cut short: a reset, not a FIN, which would end a close-delimited body (an HTTP/1.0 client's)
      // as if it were complete. Clients report a reset as an error (the native engine resets too).
      this.writer.discard();
      this.socket.resetAndDestroy();
      return;
    }
    this.destroy();
  }

  writeInformational(status: number, reason: string, headers: HeaderList): void {
    // HTTP/1.0 clients do not understand interim responses (RFC 9110 §15.2).
    if (this.closed || this.closing || this.http10 || this.writer.started) return;
    this.writer.informational(status, reason, headers);
    if (this.corkDepth === 0) this.writer.flush();
  }

  sendContinue(): void {
    if (!this.expectContinue || this.http10 || this.closed || this.closing || this.writer.started) return;
    this.expectContinue = false;
    this.writer.informational(100, 'Continue', null);
    if (this.corkDepth === 0) this.writer.flush();
  }

  startTunnel(): void {
    if (this.closed) return;
    this.tunnel = true;
    this.deadlineKind = Deadline.Tunnel;
    this.deadlineAt = this.owner.now() + this.owner.context.net.tunnelIdleTimeoutMs;
    if (this.pending !== null && !this.inExecute) this.deliverTunnelPending();
    else if (this.pending === null) this.resumeReading();
  }

  /** Bytes the client sent right behind its upgrade request belong to the tunnel. */
  private deliverTunnelPending(): void {
    const pending = this.pending;
    this.pending = null;
    if (pending !== null && pending.length > 0) this.handler?.onRequestBody(pending, false);
    this.resumeReading();
    if (this.clientEnded) this.handler?.onRequestBody(EMPTY, true);
  }

  // ── end of a response ──────────────────────────────────────────────────────
  private responseComplete(): void {
    this.responseDone = true;
    this.active = false;
    this.requestsServed++;
    const close = this.writer.closeAfter;
    if (close) {
      // The client said it sends nothing more (Connection: close, or HTTP/1.0): no lingering needed.
      if (!this.keepAlive && this.requestComplete && this.pending === null) this.closeAfterResponse();
      else this.closeGracefully();
      return;
    }
    if (this.corkDepth === 0) this.writer.flush();
    this.handler = null;
    // A pause of the finished request's body (its upstream backed up, then failed: a local reply) ends with it;
    // the body was read to its end, or the connection would be closing. Kept, it stalled the next request.
    this.bodyPaused = false;
    this.deadlineKind = Deadline.Idle;
    this.deadlineAt = this.owner.now() + this.owner.context.net.idleTimeoutMs;
    if (this.owner.context.lifecycle.draining) {
      this.closeGracefully();
      return;
    }
    if (this.socket.writableNeedDrain) {
      // A client that pipelines without reading gets no more answers queued until it reads: bounded memory.
      this.inputAwaitsDrain = true;
      if (this.inExecute) this.parser.pause();
      return;
    }
    if (this.handBackAt > 0 && this.requestsServed >= this.handBackAt) {
      this.handBackDue = true;
      if (this.corkDepth === 0 && !this.inExecute && this.tryHandBack()) return;
    }
    // Inside the parser the loop goes on by itself; otherwise the held pipelined bytes are parsed next.
    if (!this.inExecute) this.continueAfterResponse();
  }

  /**
   * Back to the native engine, between requests: only with the response written to the kernel, the request read to
   * its end, and nothing of a next request parsed (bytes held unparsed go along). True when it went.
   */
  private tryHandBack(): boolean {
    const handBack = this.owner.handBack;
    if (handBack === null) {
      // Since a reload, the native engine has no route of its own: nothing to go back for.
      this.handBackAt = 0;
      this.handBackDue = false;
      return false;
    }
    if (this.closed || this.closing) return false;
    if (this.socket.writableLength > 0) {
      // Due still: tried again once the queue is written. Node emits 'drain' only after a write reported
      // backpressure; a response whose end is queued without it is waited for by an empty write behind it (without
      // which no hand-back came, and the next request stayed on net: seen about once in six runs).
      if (!this.socket.writableNeedDrain && !this.handBackQueued) {
        this.handBackQueued = true;
        this.socket.write(EMPTY, () => this.handBackQueuedWritten());
      }
      return false;
    }
    this.handBackDue = false;
    if (this.active || !this.requestComplete || this.tunnel || this.bodyPaused || this.inputAwaitsDrain || !this.parser.idle) return false;
    const fd = (this.socket as unknown as SocketInternals)._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) return false;
    if (!handBack(fd, this.pending ?? EMPTY, this.bounces)) {
      this.handBackAt = 0;
      return false;
    }
    // Ours closes; the connection lives on in the native engine's copy of the descriptor.
    this.closed = true;
    this.pending = null;
    this.handler = null;
    this.writer.discard();
    this.socket.destroy();
    return true;
  }

  private continueAfterResponse(): void {
    if (this.pending !== null) process.nextTick(continueInputOf, this);
    else this.resumeReading();
  }

  /** The empty write tryHandBack queued is written: everything before it too. */
  handBackQueuedWritten(): void {
    this.handBackQueued = false;
    if (this.handBackDue && !this.inExecute && this.corkDepth === 0) this.tryHandBack();
  }

  private onDrain(): void {
    if (this.handBackDue && this.tryHandBack()) return;
    if (this.inputAwaitsDrain) {
      this.inputAwaitsDrain = false;
      if (!this.closed && !this.closing) this.continueAfterResponse();
      return;
    }
    this.handler?.onDownstreamWritable();
  }

  /** Answers a request the engine refuses, then closes: the parser cannot find the next request's start. */
  private reject(status: number, detail: string): void {
    if (this.closed || this.closing) return;
    if (log.isLevelEnabled('debug')) log.debug({ status, detail, remote: this.remoteAddress }, 'request rejected');
    if (this.active && !this.responseDone) {
      // A stream is in flight (a body error): it ends as aborted; the client gets the status if nothing was sent.
      this.active = false;
      const handler = this.handler;
      this.handler = null;
      handler?.onDownstreamAborted();
      if (this.writer.started) {
        this.destroy();
        return;
      }
    }
    this.writer.reset();
    this.writer.whole(status, reasonPhrase(status), ENGINE_REPLY_HEADERS, `${detail}\n`, false, false, true);
    this.responseDone = true;
    this.closeGracefully();
  }

  /**
   * Closes at once when the kernel holds the whole response (a small one was written synchronously): close()
   * still delivers it, then FIN, and skips the FIN exchange a graceful close waits for (a third of the CPU of a
   * connection-per-request client, measured). A response still queued in Node takes the graceful path.
   */
  private closeAfterResponse(): void {
    this.writer.flush();
    if (this.socket.writableLength === 0) this.destroy();
    else this.closeGracefully();
  }

  /**
   * Sends what is gathered, then FIN; reads (and drops) until the client closes. Destroying at once could make
   * the kernel answer unread client bytes with a reset that discards our response at the client.
   */
  private closeGracefully(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.active = false;
    this.handler = null;
    this.pending = null;
    if (this.inExecute) this.parser.pause();
    this.writer.flush();
    // Until our bytes are sent the send timeout applies; after that a short linger.
    this.deadlineKind = Deadline.Linger;
    this.deadlineAt = this.owner.now() + SEND_TIMEOUT_MS;
    this.socket.end(() => this.onFinished());
    this.resumeReading();
  }

  private onFinished(): void {
    if (this.deadlineKind === Deadline.Linger) this.deadlineAt = this.owner.now() + LINGER_MS;
  }

  private destroy(): void {
    if (this.closed) return;
    this.writer.discard();
    this.socket.destroy();
  }

  /** Called by the listener's sweep when the armed deadline passed. */
  expire(): void {
    if (this.closed) return;
    switch (this.deadlineKind) {
      case Deadline.Head:
        // Nothing received on a fresh connection: close quietly, like nginx. A partial head gets 408.
        if (this.parser.idle && this.pending === null) this.destroy();
        else this.timeout408('request head timeout');
        return;
      case Deadline.Body:
        if (this.reads.paused) {
          // We stopped reading (upstream backpressure): the client is not stalling.
          this.deadlineAt = this.owner.now() + this.owner.context.net.bodyTimeoutMs;
          return;
        }
        this.timeout408('request body timeout');
        return;
      case Deadline.Idle:
        if (this.socket.writableLength > 0) {
          // The last response is still being sent: the connection is not idle yet.
          this.deadlineAt = this.owner.now() + this.owner.context.net.idleTimeoutMs;
          return;
        }
        this.destroy();
        return;
      case Deadline.Linger:
        this.destroy();
        return;
      case Deadline.Tunnel:
        this.close();
        return;
    }
  }

  /** The whole-request deadline (0 = none), checked by the sweep besides the armed one. */
  requestOverdue(now: number, limitMs: number): boolean {
    return limitMs > 0 && (this.deadlineKind === Deadline.Head || this.deadlineKind === Deadline.Body) && now - this.requestStartMs > limitMs;
  }

  timeoutRequest(): void {
    this.timeout408('request timeout');
  }

  private timeout408(detail: string): void {
    this.reject(408, detail);
  }

  /**
   * Drain or shutdown: idle keep-alive connections close now, busy ones after their response. A fresh
   * connection whose first request has not arrived yet gets that request answered (with Connection: close):
   * closing it now would fail a request the client is already sending.
   */
  closeIfIdle(): void {
    if (this.tunnel) return;
    if (this.isIdle && this.requestsServed > 0) this.closeGracefully();
    else this.closeWhenDone = true;
  }

  /** Listener closing for good: every connection goes, streams in flight are aborted. */
  shutdown(): void {
    this.destroy();
  }

  private localAuthority(): string {
    const a = this.socket.localAddress ?? '127.0.0.1';
    const host = a.includes(':') ? `[${a}]` : a;
    return `${host}:${this.socket.localPort ?? 80}`;
  }
}

/** The part of Node's TCP handle read here (a descriptor on Unix). */
interface SocketInternals {
  _handle?: { fd?: number };
}

function continueInputOf(conn: NetConnection): void {
  conn.continueInput();
}
