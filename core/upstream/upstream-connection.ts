// One pooled keep-alive connection to an upstream endpoint: the socket, its response parser, and the stream it
// currently serves. Listeners are registered once per connection, never per request.

import net from 'node:net';
import { ErrorKinds, failure, type StreamFailure } from '../errors.ts';
import type { CorkedWork } from '../http/downstream.ts';
import { releaseChunk } from '../util/chunk-pool.ts';
import { ReadGate } from '../util/read-gate.ts';
import { ResponseParser, type ResponseParserHandler } from './response-parser.ts';

/** What a connection tells the stream it serves. */
export interface UpstreamStream extends ResponseParserHandler {
  /** The socket's write buffer drained: the request body may flow again. */
  onUpstreamWritable(): void;
  /** The connection failed while serving this stream; it is already closed and detached. */
  onUpstreamFailure(f: StreamFailure): void;
  /** Runs `work` (parsing one read) with the client connection corked. */
  corkDownstream(work: CorkedWork): void;
  /** After a 101: the upstream closed its side of the tunnel (or the connection). */
  onUpgradedEnd(): void;
}

/** What a connection tells its pool. Exactly one of onConnectFailed / onGone ends a connection's life. */
export interface ConnectionOwner {
  onConnected(conn: UpstreamConnection): void;
  onConnectFailed(conn: UpstreamConnection, f: StreamFailure): void;
  /** Back from a stream, reusable. */
  onReleased(conn: UpstreamConnection): void;
  /** Closed for good after it had connected. */
  onGone(conn: UpstreamConnection): void;
}

/**
 * One read buffer shared by every upstream socket of this thread (Node's `onread`): reads are handled one at a
 * time and synchronously, so no read allocates. Body chunks handed on are views of it, valid only until the
 * handler returns; whoever keeps one (a held response, an engine's unsent remainder) copies it.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * The most request bytes one turn of the event loop hands the socket: one read's worth, as ReadGate lets a
 * connection read one full buffer a turn. On loopback the kernel takes a whole buffered 1 MiB body in one writev,
 * 0.3–0.8 ms (strace, bench:offload) in which the worker serves no one else; a larger write is queued and handed
 * over a slice per turn.
 */
export const WRITE_SLICE_BYTES = 64 * 1024;

const ConnState = { Connecting: 0, Idle: 1, Active: 2, Closed: 3 } as const;
type ConnState = (typeof ConnState)[keyof typeof ConnState];

export class UpstreamConnection implements CorkedWork {
  readonly socket: net.Socket;
  private readonly owner: ConnectionOwner;
  /** The socket's reads: paused by the stream (backpressure) or for a turn of the event loop (large responses). */
  private readonly reads: ReadGate;
  private readonly parser: ResponseParser;
  private state: ConnState = ConnState.Connecting;
  private stream: UpstreamStream | null = null;
  private connectTimer: NodeJS.Timeout | null;
  private gone = false;
  private lastErrorCode = '';
  /** Set while the parser runs: a release requested from inside a callback waits until the read is parsed. */
  private parsing = false;
  private releasePending: boolean | null = null;
  private upgradedEndSent = false;
  private readonly pooledInFlight: Buffer[] = [];
  private readonly onPooledWritten = (): void => {
    const chunk = this.pooledInFlight.shift();
    if (chunk !== undefined) releaseChunk(chunk);
  };
  /**
   * Request bytes waiting for their turn (a write over WRITE_SLICE_BYTES, and every write after it), with the
   * pooled chunks among them; null when nothing waits. Its first entry is partly written from `pacedOffset`.
   */
  private paced: Buffer[] | null = null;
  private pacedPooled: boolean[] = [];
  private pacedOffset = 0;
  /** The next slice is due in a setImmediate. */
  private pacedImmediate = false;
  /** The next slice waits for the socket's 'drain' (the kernel took less than the last slice). */
  private pacedAwaitsDrain = false;
  /** endWriting() came while bytes waited: the FIN follows them. */
  private endAfterPaced = false;
  /** The read being handed to the parser inside the downstream's cork. */
  private readBuf: Buffer | null = null;
  /** Monotonic ms when this connection last went idle (for the pool's idle timeout). */
  idleSinceMs = 0;
  /** Requests completed on this connection: a reused connection may have been closed by the server meanwhile. */
  requestsServed = 0;

  constructor(owner: ConnectionOwner, host: string, port: number, connectTimeoutMs: number, maxResponseHeadBytes: number) {
    this.owner = owner;
    this.parser = new ResponseParser(NO_STREAM, maxResponseHeadBytes);
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: SHARED_READ_BUFFER, callback: (n: number, buf: Uint8Array) => this.onRead(n, buf) },
    });
    this.reads = new ReadGate(this.socket, SHARED_READ_BUFFER.length);
    this.connectTimer = setTimeout(onConnectTimeout, connectTimeoutMs, this);
    this.socket.on('connect', () => this.onConnect());
    this.socket.on('drain', () => this.onDrain());
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    this.socket.on('close', () => this.onClose());
  }

  get isIdle(): boolean {
    return this.state === ConnState.Idle;
  }

  get isClosed(): boolean {
    return this.state === ConnState.Closed;
  }

  /** Whether the upstream has sent any byte of the current response. */
  get responseStarted(): boolean {
    return this.parser.bytesReceived > 0;
  }

  /** Binds a stream to this connection for one request/response exchange. */
  attach(stream: UpstreamStream, requestIsHead: boolean, upgradeRequested = false): void {
    this.state = ConnState.Active;
    this.stream = stream;
    this.parser.reset(stream, requestIsHead, upgradeRequested);
    // A pause of the stream before (its client backed up on the last bytes of its response) is not this one's:
    // the pool hands a released connection straight to a waiting stream, without the idle state's resume.
    if (this.reads.paused) this.reads.resume();
  }

  /** Tunnel: the client closed its side; pass the FIN on once what was written has been sent. */
  endWriting(): void {
    if (this.state === ConnState.Closed) return;
    if (this.paced !== null) this.endAfterPaced = true;
    else this.socket.end();
  }

  /** Writes request bytes; false means the socket buffer is full (or bytes wait their turn): wait for onUpstreamWritable. */
  write(buf: Buffer): boolean {
    if (this.paced !== null || buf.length > WRITE_SLICE_BYTES) return this.pace(buf, false);
    return this.socket.write(buf);
  }

  /**
   * Writes a pooled body chunk and releases it once the socket has written it. Write callbacks run in write
   * order, so one callback per connection and a FIFO tell which chunk finished: no closure per chunk.
   */
  writePooled(chunk: Buffer): boolean {
    if (this.paced !== null || chunk.length > WRITE_SLICE_BYTES) return this.pace(chunk, true);
    this.pooledInFlight.push(chunk);
    return this.socket.write(chunk, this.onPooledWritten);
  }

  /** Writes a latin1 string (a request head) straight to the socket, without an intermediate Buffer. */
  writeLatin1(text: string): boolean {
    if (this.paced !== null) return this.pace(Buffer.from(text, 'latin1'), false);
    return this.socket.write(text, 'latin1');
  }

  /** Bytes were queued: false, so the stream waits for onUpstreamWritable, called once the queue is written. */
  private pace(bytes: Buffer, pooled: boolean): boolean {
    if (this.paced === null) {
      this.paced = [];
      this.pacedOffset = 0;
    }
    this.paced.push(bytes);
    this.pacedPooled.push(pooled);
    if (!this.pacedImmediate && !this.pacedAwaitsDrain) this.nextSliceNextTurn();
    return false;
  }

  private nextSliceNextTurn(): void {
    this.pacedImmediate = true;
    setImmediate(writeNextSlice, this);
  }

  /** One turn's slice of the queued bytes; then the next turn's, or the socket's 'drain', or the stream's turn. */
  writeSlice(): void {
    this.pacedImmediate = false;
    const queue = this.paced;
    if (queue === null || this.state === ConnState.Closed) return;
    const first = queue[0] as Buffer;
    const end = Math.min(first.length, this.pacedOffset + WRITE_SLICE_BYTES);
    const slice = this.pacedOffset === 0 && end === first.length ? first : first.subarray(this.pacedOffset, end);
    let ok: boolean;
    if (end < first.length) {
      this.pacedOffset = end;
      ok = this.socket.write(slice);
    } else {
      queue.shift();
      this.pacedOffset = 0;
      if (this.pacedPooled.shift() === true) {
        // Earlier slices of this chunk are written before its last one: releasing on the last is enough.
        this.pooledInFlight.push(first);
        ok = this.socket.write(slice, this.onPooledWritten);
      } else {
        ok = this.socket.write(slice);
      }
    }
    if (queue.length === 0) {
      this.paced = null;
      if (this.endAfterPaced) {
        this.endAfterPaced = false;
        this.socket.end();
      }
      if (ok) this.stream?.onUpstreamWritable();
      return;
    }
    // A full socket: the next slice waits for 'drain' rather than piling up in Node's buffer.
    if (ok) this.nextSliceNextTurn();
    else this.pacedAwaitsDrain = true;
  }

  private onDrain(): void {
    if (this.pacedAwaitsDrain) {
      this.pacedAwaitsDrain = false;
      this.nextSliceNextTurn();
    } else if (this.paced === null) {
      this.stream?.onUpstreamWritable();
    }
  }

  /** Queued bytes that will not be written: pooled chunks go back. */
  private dropPaced(): void {
    const queue = this.paced;
    if (queue === null) return;
    for (let i = 0; i < queue.length; i++) if (this.pacedPooled[i] === true) releaseChunk(queue[i] as Buffer);
    this.paced = null;
    this.pacedPooled.length = 0;
    this.endAfterPaced = false;
    this.pacedAwaitsDrain = false;
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  pauseReading(): void {
    this.reads.pause();
  }

  resumeReading(): void {
    this.reads.resume();
  }

  /**
   * The stream is done with this connection. It goes back to the pool only when the response completed, the
   * request was fully written and both sides agreed to keep the connection alive; otherwise it is closed.
   */
  release(requestComplete: boolean): void {
    if (this.state !== ConnState.Active) return;
    // Request bytes still queued: the request is not written, and the connection cannot be reused.
    const reusable = requestComplete && this.paced === null && this.parser.isComplete && this.parser.keepAlive;
    this.stream = null;
    if (this.parsing) {
      this.releasePending = reusable;
      return;
    }
    this.finishRelease(reusable);
  }

  /** Closes the socket at once (abort, timeout, protocol error, shutdown). Idempotent. */
  destroy(): void {
    if (this.state === ConnState.Closed) return;
    this.state = ConnState.Closed;
    this.stream = null;
    this.dropPaced();
    this.parser.abort();
    this.clearConnectTimer();
    this.socket.destroy();
    this.notifyGone();
  }

  markIdle(nowMs: number): void {
    this.state = ConnState.Idle;
    this.idleSinceMs = nowMs;
    // Keep reading while idle so a close (or stray bytes) from the server is noticed at once.
    this.reads.resume();
  }

  timeoutConnect(): void {
    this.connectTimer = null;
    this.failConnect(failure(ErrorKinds.upstreamConnectTimeout, 'upstream connect timeout'));
  }

  private finishRelease(reusable: boolean): void {
    this.requestsServed++;
    if (reusable) this.owner.onReleased(this);
    else this.destroy();
  }

  private notifyGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.owner.onGone(this);
  }

  private failConnect(f: StreamFailure): void {
    if (this.gone || this.state !== ConnState.Connecting) return;
    this.gone = true;
    this.state = ConnState.Closed;
    this.clearConnectTimer();
    this.socket.destroy();
    this.owner.onConnectFailed(this, f);
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) {
      clearTimeout(this.connectTimer);
      this.connectTimer = null;
    }
  }

  private onConnect(): void {
    this.clearConnectTimer();
    if (this.state !== ConnState.Connecting) return;
    this.state = ConnState.Idle;
    this.owner.onConnected(this);
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    this.onData((buf as Buffer).subarray(0, n));
    this.reads.countRead(n, this.state === ConnState.Active);
    return true;
  }

  private onData(buf: Buffer): void {
    const stream = this.stream;
    if (stream === null) {
      // Bytes with no request outstanding: the connection cannot be trusted for another exchange.
      this.destroy();
      return;
    }
    this.readBuf = buf;
    stream.corkDownstream(this);
  }

  /** Parses the pending read; called by the downstream engine with the client socket corked. */
  runCorked(): void {
    const buf = this.readBuf;
    const stream = this.stream;
    this.readBuf = null;
    if (buf === null || stream === null) return;
    this.parsing = true;
    const f = this.parser.execute(buf);
    this.parsing = false;
    if (f !== null) {
      this.releasePending = null;
      this.failStream(stream, f);
      return;
    }
    this.flushPendingRelease();
  }

  private onEnd(): void {
    const stream = this.stream;
    if (stream !== null && this.parser.isUpgraded) {
      this.upgradedEndSent = true;
      stream.onUpgradedEnd();
      return;
    }
    if (stream === null) {
      this.flushPendingRelease();
      this.destroy();
      return;
    }
    this.parsing = true;
    const f = this.parser.finish();
    this.parsing = false;
    this.releasePending = null;
    if (f !== null) {
      this.failStream(stream, f);
      return;
    }
    // A close-delimited body completed: the connection cannot carry another request.
    this.destroy();
  }

  private flushPendingRelease(): void {
    if (this.releasePending === null) return;
    const reusable = this.releasePending;
    this.releasePending = null;
    this.finishRelease(reusable);
  }

  private onError(err: NodeJS.ErrnoException): void {
    this.lastErrorCode = err.code ?? err.message;
    if (this.state === ConnState.Connecting) {
      const kind = err.code === 'ECONNREFUSED' ? ErrorKinds.upstreamConnectRefused : ErrorKinds.upstreamConnectFailed;
      this.failConnect(failure(kind, `upstream connect failed: ${this.lastErrorCode}`));
    }
  }

  private onClose(): void {
    if (this.state === ConnState.Connecting) {
      this.failConnect(failure(ErrorKinds.upstreamConnectFailed, 'upstream closed while connecting'));
      return;
    }
    const stream = this.stream;
    if (stream !== null && this.parser.isUpgraded) {
      // A tunnel's upstream went away: the client side is ended, not reset (WebSocket close is end-to-end).
      this.stream = null;
      if (!this.upgradedEndSent) stream.onUpgradedEnd();
      this.destroy();
      return;
    }
    if (stream !== null) {
      const kind = this.parser.bytesReceived === 0 ? ErrorKinds.upstreamResetBeforeResponse : ErrorKinds.upstreamResetMidResponse;
      const why = this.lastErrorCode ? `: ${this.lastErrorCode}` : '';
      this.failStream(stream, failure(kind, `upstream connection closed${why}`));
      return;
    }
    this.destroy();
  }

  private failStream(stream: UpstreamStream, f: StreamFailure): void {
    this.destroy();
    stream.onUpstreamFailure(f);
  }
}

function writeNextSlice(conn: UpstreamConnection): void {
  conn.writeSlice();
}

function onConnectTimeout(conn: UpstreamConnection): void {
  conn.timeoutConnect();
}

/** The parser's handler while no stream is attached; the connection never feeds it bytes in that state. */
const NO_STREAM: ResponseParserHandler = {
  onResponseHead() {},
  onResponseBody() {},
  onResponseComplete() {},
  onInformational() {},
  onUpgradedData() {},
};
