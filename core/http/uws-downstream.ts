// The uWebSockets.js side of one request: writes the response with corking and backpressure, and closes the
// connection (never `end`) when a response cannot be completed, so a truncated body never looks complete.
// Every chunked write and every head is sized to the room left in uWS's cork buffer (uws-cork.ts says why: uWS
// drops a write that overflows a cork whose flush the kernel refused); what does not fit waits in a CorkOverflow
// and is written in fresh corks as soon as the current cork ends.

import type { HttpResponse } from 'uWebSockets.js';
import { releaseChunk } from '../util/chunk-pool.ts';
import type { CorkedWork, Downstream, DownstreamHandler } from './downstream.ts';
import type { HeaderList } from './header-list.ts';
import { addToCork, CHUNK_OVERHEAD_BYTES, chunkRoom, cork, fitsCork, HEAD_OVERHEAD_BYTES, UNKNOWN_FILL } from './uws-cork.ts';
import { CorkOverflow, MIN_SPLIT_BYTES } from './uws-overflow.ts';
import { type RequestBodyOwner, UwsRequestBody } from './uws-request-body.ts';

const Framing = { None: 0, Length: 1, Chunked: 2, Bodyless: 3 } as const;
type Framing = (typeof Framing)[keyof typeof Framing];

// uWS's cork takes a callback: these carry its arguments, so no closure is made per cork.
let pendingWork: CorkedWork | null = null;
let overflowOwner: UwsDownstream | null = null;
let writableOwner: UwsDownstream | null = null;
let writableOffset = 0;

/**
 * How long a response that ends the connection waits for the rest of the request body (see holdForBody()): the net
 * and native engines linger as long after such a reply (LINGER_MS, H1_LINGER_MS), reading and dropping what comes.
 */
const HOLD_FOR_BODY_MS = 2000;

/** A local reply held until the request body has arrived (respond()'s arguments). */
interface HeldReply {
  status: number;
  reason: string;
  headers: readonly string[];
  body: string;
  closeConnection: boolean;
  headOnly: boolean;
}

function runPendingWork(): void {
  const work = pendingWork as CorkedWork;
  pendingWork = null;
  work.runCorked();
}

export class UwsDownstream implements Downstream, RequestBodyOwner {
  readonly remoteAddress: string;
  private readonly res: HttpResponse;
  private handler: DownstreamHandler | null = null;
  private closed = false;
  private finished = false;
  private framing: Framing = Framing.None;
  private totalSize = 0;
  /** Body bytes not yet accepted by uWS in Length framing (tryEnd does not buffer what it could not send). */
  private queue: Buffer[] | null = null;
  /** Write offset at which queue[0] starts. */
  private queueOffset = 0;
  private endRequested = false;
  /** tryEnd wrote the last byte of a sized body: uWS completed the response. */
  private sizedDone = false;
  private writableRegistered = false;
  /** The request body side, made when the request has a body (or the stream pauses it). */
  private body: UwsRequestBody | null = null;
  /** The client asked to close after this response (a `close` connection option, alone or in a list). */
  private clientClose = false;
  /**
   * uWS saw it too: it closes after the response by itself, and then never writes a Connection header of its
   * own. It does so only when the first Connection header is five bytes long: "close", or any other value of
   * that length (probed: "keep-alive, close" stays open, "x-hop" closes).
   */
  private uwsSawClose = false;
  /** What did not fit the cork it was written in (a head, body bytes), or null. */
  private overflow: CorkOverflow | null = null;
  /** The last overflow written met backpressure (or the part of a chunk written before it did). */
  private overflowBlocked = false;
  /** The request has a body, and its last chunk has not arrived. */
  private bodyArriving = false;
  /** A local reply waiting for the request body's end (respond()), or null. */
  private held: HeldReply | null = null;
  /** The response's end waits for the request body's end (holdForBody()): the body is complete, or bodyless. */
  private heldEnd = false;
  /** Set while a completion waits for the request body's end, or HOLD_FOR_BODY_MS (holdForBody()). */
  private holdTimer: NodeJS.Timeout | null = null;

  constructor(res: HttpResponse, remoteAddress: string) {
    this.res = res;
    this.remoteAddress = remoteAddress;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called by the listener for a request with a `close` connection option; `uwsSawIt`: see uwsSawClose. */
  clientAskedToClose(uwsSawIt: boolean): void {
    this.clientClose = true;
    this.uwsSawClose = uwsSawIt;
  }

  setHandler(handler: DownstreamHandler): void {
    this.handler = handler;
    if (this.body !== null) this.body.handler = handler;
  }

  /** uWS told us the client is gone; the response object must not be touched again. */
  aborted(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropHold();
    this.queue = null;
    this.overflow = null;
    this.body?.drop();
    if (!this.finished) this.handler?.onDownstreamAborted();
  }

  /** The request has a body (the listener says so before the stream starts). */
  expectRequestBody(): void {
    this.bodyArriving = true;
  }

  /** A request body chunk from uWS (a pooled copy). */
  receiveRequestBody(chunk: Buffer, last: boolean): void {
    if (last) this.bodyArriving = false;
    if (this.holdTimer !== null) {
      // Nobody's: a held completion only waits for the end.
      releaseChunk(chunk);
      if (last) this.endHold();
      return;
    }
    this.requestBody().receive(chunk, last);
  }

  pauseRequestBody(): void {
    this.requestBody().pause();
  }

  resumeRequestBody(): void {
    this.body?.resume();
  }

  /** The request body cannot be held: the request cannot complete. */
  abandon(): void {
    const notify = !this.finished;
    this.closeNow();
    if (notify) this.handler?.onDownstreamAborted();
  }

  private requestBody(): UwsRequestBody {
    if (this.body === null) this.body = new UwsRequestBody(this.res, this, this.handler);
    return this.body;
  }

  runCorked(work: CorkedWork): void {
    if (this.closed || cork.response === this.res) {
      work.runCorked();
      return;
    }
    pendingWork = work;
    this.corkThen(runPendingWork);
  }

  /**
   * Marks a callback in which uWS corked `res` itself (the request handler, a request body chunk): writes need
   * no cork of ours, and what the cork already holds is unknown. Returns what leaveHandler restores.
   */
  static enterHandler(res: HttpResponse): HttpResponse | null {
    const outer = cork.response;
    cork.response = res;
    cork.fill = UNKNOWN_FILL;
    return outer;
  }

  static leaveHandler(outer: HttpResponse | null): void {
    cork.response = outer;
    // uWS calls us from the event loop, so there is normally no outer cork; if there is, assume nothing of it.
    cork.fill = outer === null ? 0 : UNKNOWN_FILL;
  }

  writeHead(status: number, reason: string, headers: HeaderList, contentLength: number, bodyless: boolean, closeAfter: boolean): void {
    if (this.closed) return;
    if (cork.response !== this.res) {
      this.corkThen(() => this.writeHead(status, reason, headers, contentLength, bodyless, closeAfter));
      return;
    }
    let block = `${status} ${reason}`;
    const e = headers.entries;
    for (let i = 0; i < e.length; i += 2) block += `\r\n${e[i]}: ${e[i + 1]}`;
    // RFC 9112 §9.6: the response to a request that asked to close says so (a draining stream's headers already
    // do). uWS is never asked to close after a forwarded response: it would write its own Connection header in
    // the middle of a chunked body (probed: "5\r\nhelloConnection: close\r\n..."). It closes by itself when
    // it saw the client's close; otherwise the client closes, as the header tells it to.
    if (this.clientClose && !closeAfter) block += '\r\nconnection: close';
    if (bodyless) {
      // uWS frames a bodyless end without Content-Length; a HEAD or 304 keeps the length it would have had.
      if (contentLength >= 0 && status !== 204) block += `\r\ncontent-length: ${contentLength}`;
      this.framing = Framing.Bodyless;
    } else if (contentLength >= 0) {
      this.framing = Framing.Length;
      this.totalSize = contentLength;
    } else {
      this.framing = Framing.Chunked;
    }
    if (!fitsCork(block.length + HEAD_OVERHEAD_BYTES)) {
      // Too big for what is left of the cork (response heads may be up to 64 KiB): written field by field in
      // fresh corks once this one ends, and the body waits behind it.
      this.startOverflow(block.split('\r\n'));
      return;
    }
    // One writeStatus with every header line: measured faster than a writeHeader per field, and a Buffer keeps
    // latin1 header bytes byte-for-byte (a string would be re-encoded as UTF-8).
    addToCork(block.length + HEAD_OVERHEAD_BYTES);
    this.res.writeStatus(Buffer.from(block, 'latin1'));
  }

  writeBody(chunk: Buffer): boolean {
    if (this.closed || this.finished || chunk.length === 0) return !this.closed;
    if (cork.response !== this.res) {
      let ok = false;
      this.corkFresh(() => {
        ok = this.writeBody(chunk);
      });
      // What did not fit is written now; the answer is whether uWS took it all without backpressure.
      return this.overflow !== null ? this.flushOverflow(false) : ok;
    }
    if (this.overflow !== null) {
      this.keepOverflow(chunk);
      return false;
    }
    if (this.framing === Framing.Chunked) return this.writeChunk(chunk);
    return this.writeSized(chunk);
  }

  /** Length framing: tryEnd is safe from the overflow loss (see below), so no cork room is checked. */
  private writeSized(chunk: Buffer): boolean {
    if (this.framing !== Framing.Length) return true;
    if (this.queue !== null) {
      // Chunks are views of a shared read buffer, valid only during this call: what we keep, we copy.
      this.queue.push(Buffer.from(chunk));
      return false;
    }
    // tryEnd is safe from the overflow loss: it writes "optionally", so bytes uWS dropped are not counted in
    // the write offset, and the queue resends them from there.
    const offset = this.res.getWriteOffset();
    const [ok, done] = this.tryEndAt(offset, chunk);
    if (done) {
      this.finished = true;
      this.sizedDone = true;
      return true;
    }
    if (ok) return true;
    this.queue = [Buffer.from(chunk)];
    this.queueOffset = offset;
    this.watchWritable();
    return false;
  }

  end(): void {
    if (this.closed || this.finished) return;
    if (this.queue !== null) {
      this.endRequested = true;
      return;
    }
    if (this.overflow !== null) {
      this.finished = true;
      this.overflow.endPending = true;
      return;
    }
    if (cork.response !== this.res) {
      this.corkThen(() => this.end());
      return;
    }
    this.finished = true;
    this.endNow();
  }

  /** Completes the response in the current cork (end() checked everything else). */
  private endNow(): void {
    if (this.queue !== null) {
      this.endRequested = true;
      return;
    }
    // endWithoutBody takes no arguments here: an explicit `undefined` length makes uWS write Content-Length: 0
    // (wrong for 204, a duplicate for HEAD). A drained bodyless response relies on its connection: close header.
    if (this.framing === Framing.Bodyless || this.framing === Framing.Chunked || this.totalSize === 0) {
      if (this.closesOnUnreadBody()) {
        this.heldEnd = true;
        this.holdForBody();
        return;
      }
      this.body?.release();
      if (this.framing === Framing.Bodyless) this.res.endWithoutBody();
      else this.res.end();
    } else if (!this.sizedDone) {
      // Length framing that did not reach its size: the upstream sent less than it announced.
      this.closeNow();
    }
  }

  /** A local reply; one that ends the connection while the request body is still arriving is held (holdForBody()). */
  respond(status: number, reason: string, headers: readonly string[], body: string, closeConnection: boolean, headOnly = false): void {
    if (this.closed || this.finished) return;
    if (this.bodyArriving && (closeConnection || this.clientClose || this.uwsSawClose)) {
      this.finished = true;
      this.held = { status, reason, headers, body, closeConnection, headOnly };
      this.holdForBody();
      return;
    }
    this.reply(status, reason, headers, body, closeConnection, headOnly);
  }

  /** Completing the response now would make uWS close the connection while the client still sends its body. */
  private closesOnUnreadBody(): boolean {
    return this.bodyArriving && this.uwsSawClose;
  }

  /**
   * Holds what would complete a response that ends the connection — a local reply, a forwarded response's end, or
   * the last byte of a sized body — until the request body's end (read and dropped) or HOLD_FOR_BODY_MS, whichever
   * comes first. uWS closes the socket right after its FIN without reading on, and a close with unread bytes makes
   * the kernel reset the connection, which costs a client still sending its body the response (a Node client's
   * write fails, and it never reads what came; found by the exchange fuzz test, for local replies and for
   * upstreams that answer before the request body is through). The net and native engines send the response at
   * once and linger instead, as nginx does. Only a response uWS closes after is held: after one it keeps the
   * connection open, uWS skips the rest of the body itself.
   */
  private holdForBody(): void {
    if (this.holdTimer !== null) return;
    // The rest of the body is nobody's; a paused socket reads again, so that it can arrive.
    this.body?.release();
    this.holdTimer = setTimeout(UwsDownstream.holdOver, HOLD_FOR_BODY_MS, this);
  }

  private static holdOver(self: UwsDownstream): void {
    self.endHold();
  }

  /** The request body has ended, or the wait is over: what was held goes out. */
  private endHold(): void {
    const reply = this.held;
    const end = this.heldEnd;
    this.dropHold();
    this.bodyArriving = false;
    if (this.closed) return;
    if (reply !== null) {
      this.finished = false;
      this.reply(reply.status, reply.reason, reply.headers, reply.body, reply.closeConnection, reply.headOnly);
    } else if (end) {
      this.corkThen(() => this.endNow());
    } else if (this.queue !== null) {
      // A sized body's last byte: written as a writable event would.
      this.onWritable(this.res.getWriteOffset());
    }
  }

  private dropHold(): void {
    if (this.holdTimer === null) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.held = null;
    this.heldEnd = false;
  }

  private reply(status: number, reason: string, headers: readonly string[], body: string, closeConnection: boolean, headOnly: boolean): void {
    if (this.closed || this.finished) return;
    if (cork.response !== this.res) {
      this.corkThen(() => this.reply(status, reason, headers, body, closeConnection, headOnly));
      return;
    }
    let block = `${status} ${reason}`;
    for (let i = 0; i < headers.length; i += 2) block += `\r\n${headers[i]}: ${headers[i + 1]}`;
    const close = closeConnection || this.clientClose;
    if (headOnly) {
      // A HEAD answer announces the length the GET body would have, and sends none.
      this.finished = true;
      this.body?.release();
      block += `\r\ncontent-length: ${Buffer.byteLength(body)}`;
      if (close) block += '\r\nconnection: close';
      this.res.writeStatus(Buffer.from(block, 'latin1'));
      this.res.endWithoutBody();
      return;
    }
    const bytes = Buffer.byteLength(body);
    if (fitsCork(block.length + bytes + HEAD_OVERHEAD_BYTES)) {
      this.finished = true;
      // end(body, true) writes uWS's own Connection: close header, unless uWS saw the client's close.
      if (close && this.uwsSawClose) block += '\r\nconnection: close';
      addToCork(block.length + bytes + HEAD_OVERHEAD_BYTES);
      this.res.writeStatus(Buffer.from(block, 'latin1'));
      this.body?.release();
      this.res.end(body, close);
      return;
    }
    // Too big for what is left of the cork: `end(body)` could lose it (uws-cork.ts), tryEnd cannot. uWS does not
    // close after a completing tryEnd, so a closing reply says so and the client closes.
    if (close) block += '\r\nconnection: close';
    this.framing = Framing.Length;
    this.totalSize = bytes;
    addToCork(block.length + HEAD_OVERHEAD_BYTES);
    this.res.writeStatus(Buffer.from(block, 'latin1'));
    this.writeBody(Buffer.from(body));
    this.end();
  }

  close(): void {
    if (this.closed) return;
    this.closeNow();
  }

  /** uWS has no way to write an interim response before the final one: 103 is dropped. */
  writeInformational(): void {}

  /** uWS answers `Expect: 100-continue` itself. */
  sendContinue(): void {}

  /** Never asked: the uWS listener drops Upgrade, so no request is an upgrade. */
  startTunnel(): void {
    this.closeNow();
  }

  /**
   * One chunked write, never more than the cork can take (see the top of the file). What does not fit waits
   * for the cork to end and reports backpressure until then: the stream stops reading its upstream, and the
   * flush lets it go on only if uWS took everything (else onWritable does). Reporting nothing let libuv's read
   * loop outrun a slow client: +37 to +112 MiB RSS in the 256 MiB slow-download test, against +3 to +6 MiB.
   */
  private writeChunk(chunk: Buffer): boolean {
    const room = chunkRoom();
    if (chunk.length <= room) {
      addToCork(chunk.length + CHUNK_OVERHEAD_BYTES);
      const ok = this.res.write(chunk);
      if (!ok) this.watchWritable();
      return ok;
    }
    let rest = chunk;
    let blocked = false;
    if (room >= MIN_SPLIT_BYTES) {
      addToCork(room + CHUNK_OVERHEAD_BYTES);
      blocked = !this.res.write(chunk.subarray(0, room));
      rest = chunk.subarray(room);
    }
    this.keepOverflow(rest);
    if (blocked) (this.overflow as CorkOverflow).blocked = true;
    return false;
  }

  private keepOverflow(chunk: Buffer): void {
    (this.overflow ?? this.startOverflow(null)).keep(chunk);
  }

  private startOverflow(headLines: string[] | null): CorkOverflow {
    // In uWS's own cork nothing of ours runs when it ends: write on the next turn, from copies.
    const copies = cork.fill === UNKNOWN_FILL;
    const overflow = new CorkOverflow(copies, headLines);
    this.overflow = overflow;
    if (copies) setImmediate(UwsDownstream.flushDeferredOverflow, this);
    return overflow;
  }

  /** The next turn after an overflow began in uWS's own cork (unless a cork of ours wrote it first). */
  private static flushDeferredOverflow(self: UwsDownstream): void {
    if (self.overflow !== null) self.flushOverflow(true);
  }

  /**
   * Writes the overflow in as many fresh corks as it needs. Returns whether uWS took it all without
   * backpressure; if it did not, onWritable tells the stream later. `notify`: the stream was told
   * "backpressured" for the waiting bytes and is told now when that is over.
   */
  private flushOverflow(notify: boolean): boolean {
    while (this.overflow !== null && !this.closed) {
      overflowOwner = this;
      this.corkFresh(UwsDownstream.writeOverflowRound);
      overflowOwner = null;
    }
    const drained = !this.overflowBlocked;
    this.overflowBlocked = false;
    if (this.closed) return false;
    if (!drained) this.watchWritable();
    else if (notify) this.handler?.onDownstreamWritable();
    return drained;
  }

  /** One fresh cork's worth of the overflow; ends the response once everything before the end is written. */
  private static writeOverflowRound(): void {
    const self = overflowOwner as UwsDownstream;
    const overflow = self.overflow as CorkOverflow;
    if (!overflow.writeHead(self.res)) return;
    if (self.framing === Framing.Chunked) {
      if (!overflow.writeChunks(self.res)) return;
    } else {
      // Sized bodies go through tryEnd, which may overflow a cork safely; bodyless ones have nothing.
      for (let chunk = overflow.next(); chunk !== null && !self.closed; chunk = overflow.next()) {
        if (!self.writeSized(chunk)) overflow.blocked = true;
      }
    }
    self.overflow = null;
    self.overflowBlocked = overflow.blocked;
    if (overflow.endPending && !self.closed) self.endNow();
  }

  /**
   * Runs `fn` in a fresh cork of ours; whatever did not fit is written in further corks right after. For writes
   * from outside any uWS callback (upstream reads, timers, settled promises, onWritable).
   */
  private corkThen(fn: () => void): void {
    this.corkFresh(fn);
    if (this.overflow !== null) this.flushOverflow(true);
  }

  private corkFresh(fn: () => void): void {
    const outer = cork.response;
    const outerFill = cork.fill;
    cork.response = this.res;
    // A cork of ours starts empty: uWS flushes its cork buffer whenever a cork ends.
    cork.fill = 0;
    try {
      this.res.cork(fn);
    } finally {
      cork.response = outer;
      cork.fill = outerFill;
    }
  }

  private closeNow(): void {
    this.closed = true;
    this.dropHold();
    this.finished = true;
    this.queue = null;
    this.overflow = null;
    this.body?.drop();
    // close() runs onAborted synchronously; `closed` is already set so the handler is not called back.
    this.res.close();
  }

  private watchWritable(): void {
    if (this.writableRegistered) return;
    this.writableRegistered = true;
    this.res.onWritable((offset: number) => this.onWritable(offset));
  }

  /** uWS calls onWritable without a cork: the writes it triggers get a fresh cork of ours. */
  private onWritable(offset: number): boolean {
    if (this.closed) return true;
    writableOwner = this;
    writableOffset = offset;
    this.corkThen(UwsDownstream.writableRound);
    writableOwner = null;
    return true;
  }

  private static writableRound(): void {
    const self = writableOwner as UwsDownstream;
    if (self.framing === Framing.Length) {
      if (!self.flushQueue(writableOffset)) return;
      if (self.endRequested) {
        self.endRequested = false;
        self.finished = true;
        self.endNow();
      }
    }
    self.handler?.onDownstreamWritable();
  }

  /**
   * uWS's tryEnd of `chunk` written at body offset `offset`. When it can complete the response the request body is
   * released first: the response object is gone once it has. When completing it would close the connection on a
   * body still arriving, all but the last byte is written and the rest waits (holdForBody()): reported as a write
   * uWS took only part of, so the caller keeps the chunk and resends from the write offset.
   */
  private tryEndAt(offset: number, chunk: Buffer): [boolean, boolean] {
    if (offset + chunk.length >= this.totalSize) {
      if (this.closesOnUnreadBody()) {
        if (chunk.length > 1) this.res.tryEnd(chunk.subarray(0, chunk.length - 1), this.totalSize);
        this.holdForBody();
        return [false, false];
      }
      this.body?.release();
    }
    return this.res.tryEnd(chunk, this.totalSize);
  }

  /** Resends queued bytes from where uWS stopped; true when the queue is empty. */
  private flushQueue(offset: number): boolean {
    const queue = this.queue;
    if (queue === null) return true;
    while (queue.length > 0) {
      const chunk = queue[0] as Buffer;
      const from = offset - this.queueOffset;
      const rest = from > 0 ? chunk.subarray(from) : chunk;
      const [ok, done] = this.tryEndAt(offset, rest);
      if (done) {
        this.finished = true;
        this.sizedDone = true;
        this.queue = null;
        return true;
      }
      // uWS took part of it: queue[0] still starts at queueOffset; wait for the next writable event.
      if (!ok) return false;
      queue.shift();
      this.queueOffset = this.res.getWriteOffset();
      offset = this.queueOffset;
    }
    this.queue = null;
    return true;
  }
}
