// The seam between one stream and the engine that owns the client connection (uWS today, raw net later).
// HttpStream talks to the client only through this interface, so an engine plugs in without touching the stream.

import type { HeaderList } from './header-list.ts';

/** What the engine tells the stream. */
export interface DownstreamHandler {
  /** A request body chunk the stream owns (engines copy if their buffer is transient); `last` ends the body. */
  onRequestBody(chunk: Buffer, last: boolean): void;
  /** A write that returned false has drained: response bytes may flow again. */
  onDownstreamWritable(): void;
  /** The client went away (or the engine closed the connection); the stream must release everything. */
  onDownstreamAborted(): void;
}

/** Work to run with the client connection corked, so a response head and body leave in one write. */
export interface CorkedWork {
  runCorked(): void;
}

export interface Downstream {
  readonly remoteAddress: string;
  /** True once the client is gone or the connection was closed: nothing may be written any more. */
  readonly isClosed: boolean;
  setHandler(handler: DownstreamHandler): void;
  pauseRequestBody(): void;
  resumeRequestBody(): void;
  runCorked(work: CorkedWork): void;
  /**
   * Writes the status line and headers. The engine frames the body itself: `contentLength` >= 0 means exactly
   * that many bytes follow, -1 means unknown (chunked); `bodyless` responses (HEAD, 204, 304) carry none and
   * keep a known Content-Length as a header. `closeAfter` closes the connection once the response is complete
   * (draining); `headers` then carry `connection: close`, and an engine that cannot close after every framing
   * (uWS) leaves the closing to the client, which that header asks to.
   */
  writeHead(status: number, reason: string, headers: HeaderList, contentLength: number, bodyless: boolean, closeAfter: boolean): void;
  /** Writes body bytes; false means the engine is backpressured: wait for onDownstreamWritable. */
  writeBody(chunk: Buffer): boolean;
  /** Completes the response. */
  end(): void;
  /**
   * A whole response in one call (local replies). `headers` is a flat [name, value, …] list of checked fields.
   * `headOnly` (the request was HEAD) sends the body's length and no body.
   */
  respond(status: number, reason: string, headers: readonly string[], body: string, closeConnection: boolean, headOnly?: boolean): void;
  /** Closes the connection without completing the response: a truncated body never looks complete. */
  close(): void;
  /** An interim response from the upstream (103 Early Hints): relayed when the engine and client can take it. */
  writeInformational(status: number, reason: string, headers: HeaderList): void;
  /** The stream is about to forward the request: a client waiting on `Expect: 100-continue` may send its body. */
  sendContinue(): void;
  /**
   * After a 101 head was written: from now on the connection is a byte tunnel. Client bytes arrive through
   * onRequestBody (`last` when the client closed its side), and writeBody/end carry the upstream's bytes.
   */
  startTunnel(): void;
}
