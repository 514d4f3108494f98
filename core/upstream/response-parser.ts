// Strict, incremental HTTP/1.1 response parser for upstream connections (RFC 9112). Body chunks are views of
// the socket's buffers; anything ambiguous (TE+CL, repeated or invalid Content-Length, bare CR/LF, obs-fold,
// unknown transfer codings) is a protocol error, because a proxy that guesses invites response smuggling.

import { ErrorKinds, failure, type StreamFailure } from '../errors.ts';
import { ChunkedDecoder } from '../http/chunked-decoder.ts';
import { fieldProblemText, HeadAccumulator, HeadProblem, scanField } from '../http/head-tokenizer.ts';
import { HeaderList } from '../http/header-list.ts';
import { CR, FIELD_VALUE_BYTE, LF, SP } from '../http/http-tokens.ts';
import { ResponseHead } from '../http/response-head.ts';

export interface ResponseParserHandler {
  /** A final (non-1xx) response head; informational responses are consumed by the parser. */
  onResponseHead(head: ResponseHead): void;
  /** A view of a shared read buffer, valid only until the handler returns: copy it to keep it. */
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(): void;
  /** An interim response other than 100 Continue (103 Early Hints, 102): the engine decides whether to relay it. */
  onInformational(head: ResponseHead): void;
  /** Bytes after a 101 Switching Protocols: the connection is a tunnel now (a view, valid only during the call). */
  onUpgradedData(chunk: Buffer): void;
}

const State = { Head: 0, BodyLength: 1, BodyUntilClose: 2, Chunked: 3, Done: 4, Failed: 5, Upgraded: 6 } as const;
type State = (typeof State)[keyof typeof State];

/** Scratch for scanField: fields are scanned one at a time and consumed at once. */
const FIELD_SPAN = [0, 0, 0, 0];

export class ResponseParser {
  private state: State = State.Head;
  private handler: ResponseParserHandler;
  private readonly maxHeadBytes: number;
  private readonly head = new HeadAccumulator();
  private remaining = 0;
  private readonly chunked = new ChunkedDecoder();
  private requestWasHead = false;
  private upgradeRequested = false;
  /** Bytes of the current response seen so far; 0 means the upstream has not started answering. */
  bytesReceived = 0;
  /** Whether the connection may carry another request once this response completes. */
  keepAlive = true;

  constructor(handler: ResponseParserHandler, maxHeadBytes: number) {
    this.handler = handler;
    this.maxHeadBytes = maxHeadBytes;
  }

  /** Prepares for the response to a new request. */
  reset(handler: ResponseParserHandler, requestWasHead: boolean, upgradeRequested = false): void {
    this.handler = handler;
    this.requestWasHead = requestWasHead;
    this.upgradeRequested = upgradeRequested;
    this.state = State.Head;
    this.head.reset();
    this.bytesReceived = 0;
    this.keepAlive = true;
  }

  get isComplete(): boolean {
    return this.state === State.Done;
  }

  /** True after a 101 to an upgrade request: every further byte belongs to the tunnel. */
  get isUpgraded(): boolean {
    return this.state === State.Upgraded;
  }

  /** True while a head or body is partly read: a close now would truncate the message. */
  get inMessage(): boolean {
    return this.state !== State.Done && this.state !== State.Failed && this.bytesReceived > 0;
  }

  /** Stops parsing: used when the stream is torn down from inside a handler callback. */
  abort(): void {
    this.state = State.Failed;
  }

  /** Feeds bytes read from the socket. Returns a failure (and stops) on any protocol violation. */
  execute(buf: Buffer): StreamFailure | null {
    this.bytesReceived += buf.length;
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      switch (this.state) {
        case State.Head: {
          const r = this.consumeHead(buf, pos);
          if (typeof r !== 'number') return r;
          if (r < 0) return null; // head incomplete; bytes kept
          pos = r;
          break;
        }
        case State.BodyLength: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          this.handler.onResponseBody(pos === 0 && n === len ? buf : buf.subarray(pos, pos + n));
          pos += n;
          if (this.remaining === 0 && this.state === State.BodyLength) this.complete();
          break;
        }
        case State.BodyUntilClose: {
          this.handler.onResponseBody(pos === 0 ? buf : buf.subarray(pos));
          return null;
        }
        case State.Chunked: {
          const next = this.chunked.decode(buf, pos);
          if (next < 0) return this.fail(this.chunked.error);
          pos = next;
          const data = this.chunked.data;
          if (data !== null) this.handler.onResponseBody(data);
          if (this.chunked.done && this.state === State.Chunked) this.complete();
          break;
        }
        case State.Upgraded:
          this.handler.onUpgradedData(pos === 0 ? buf : buf.subarray(pos));
          return null;
        case State.Done:
          return this.fail('unexpected bytes after the response');
        case State.Failed:
          return null;
      }
    }
    return null;
  }

  /** The upstream closed the connection. Completes a close-delimited body; anything else mid-message is a failure. */
  finish(): StreamFailure | null {
    switch (this.state) {
      case State.BodyUntilClose:
        this.complete();
        return null;
      case State.Done:
      case State.Failed:
      case State.Upgraded:
        return null;
      case State.Head:
        if (this.bytesReceived === 0) return failure(ErrorKinds.upstreamResetBeforeResponse, 'upstream closed the connection before responding');
        return this.fail('upstream closed the connection inside the response head');
      default:
        this.state = State.Failed;
        return failure(ErrorKinds.upstreamResetMidResponse, 'upstream closed the connection mid-body');
    }
  }

  private fail(detail: string): StreamFailure {
    this.state = State.Failed;
    this.keepAlive = false;
    return failure(ErrorKinds.upstreamProtocolError, detail);
  }

  private complete(): void {
    this.state = State.Done;
    this.handler.onResponseComplete();
  }

  private startChunk(): void {
    this.state = State.Chunked;
    this.chunked.reset(this.maxHeadBytes);
  }

  /** Returns the position after the head, -1 when more bytes are needed, or a failure. */
  private consumeHead(buf: Buffer, pos: number): number | StreamFailure {
    const next = this.head.take(buf, pos, this.maxHeadBytes);
    if (next === HeadProblem.Incomplete) return -1;
    if (next === HeadProblem.TooLarge) return this.fail('response head too large');
    if (next < 0) return this.fail('bare LF in response head');
    const h = this.head;
    const r = this.parseHead(h.data, h.headStart, h.headEnd - 2);
    return r ?? next;
  }

  /** Parses the status line and fields in data[start, end) where end is just past the last field's CRLF. */
  private parseHead(data: Buffer, start: number, end: number): StreamFailure | null {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason] CRLF
    if (end - start < 14 || data.toString('latin1', start, start + 7) !== 'HTTP/1.') return this.fail('invalid status line');
    const minor = (data[start + 7] as number) - 0x30;
    if ((minor !== 0 && minor !== 1) || data[start + 8] !== SP) return this.fail('invalid HTTP version');
    const d0 = (data[start + 9] as number) - 0x30;
    const d1 = (data[start + 10] as number) - 0x30;
    const d2 = (data[start + 11] as number) - 0x30;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.fail('invalid status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let p = start + 12;
    let reasonStart = p;
    if (data[p] === SP) reasonStart = ++p;
    else if (data[p] !== CR) return this.fail('invalid status line');
    while (data[p] !== CR) {
      if (FIELD_VALUE_BYTE[data[p] as number] === 0) return this.fail('invalid byte in reason phrase');
      p++;
    }
    if (data[p + 1] !== LF) return this.fail('bare CR in status line');
    const reason = data.toString('latin1', reasonStart, p);
    p += 2;

    const headers = new HeaderList();
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    const span = FIELD_SPAN;
    while (p < end) {
      const next = scanField(data, p, span);
      if (next < 0) return this.fail(`response: ${fieldProblemText(next)}`);
      p = next;
      const name = data.toString('latin1', span[0], span[1]).toLowerCase();
      const value = data.toString('latin1', span[2], span[3]);
      if (name === 'content-length') {
        if (contentLength !== -1) return this.fail('repeated Content-Length');
        contentLength = parseContentLength(value);
        if (contentLength < 0) return this.fail('invalid Content-Length');
      } else if (name === 'transfer-encoding') {
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
      } else if (name === 'connection') {
        connection = connection === undefined ? value : `${connection}, ${value}`;
      }
      headers.pushTrusted(name, value);
    }

    // The framing fields are checked whatever the status, as the native engine (native/h1-parse.c) and nginx do:
    // a 204 or a response to HEAD has no body whatever they say, but one that says two things, or names a coding
    // no one here can end, is not an upstream to trust with the next response on this connection.
    if (transferEncoding !== undefined) {
      if (contentLength !== -1) return this.fail('both Transfer-Encoding and Content-Length');
      if (!isChunkedOnly(transferEncoding)) return this.fail(`unsupported Transfer-Encoding ${JSON.stringify(transferEncoding)}`);
    }

    if (status < 200) {
      if (status === 101) {
        // Only an upgrade request may be answered 101: anything else would hand the client a raw socket.
        if (!this.upgradeRequested) return this.fail('unexpected 101 Switching Protocols');
        this.keepAlive = false;
        this.state = State.Upgraded;
        this.handler.onResponseHead(new ResponseHead(status, reason, headers, -1, true));
        return null;
      }
      // 100 Continue is the proxy's own business (it answers Expect itself); other interim responses are offered.
      if (status !== 100) this.handler.onInformational(new ResponseHead(status, reason, headers, -1, true));
      this.head.reset();
      return null;
    }

    this.keepAlive = keepAliveOf(minor, connection);
    const bodyless = this.requestWasHead || status === 204 || status === 304;
    const head = new ResponseHead(status, reason, headers, contentLength, bodyless);
    if (bodyless) {
      this.handler.onResponseHead(head);
      if (this.state === State.Head) this.complete();
      return null;
    }
    if (transferEncoding !== undefined) {
      this.startChunk();
    } else if (contentLength >= 0) {
      this.remaining = contentLength;
      this.state = State.BodyLength;
    } else {
      this.keepAlive = false;
      this.state = State.BodyUntilClose;
    }
    this.handler.onResponseHead(head);
    if (this.state === State.BodyLength && this.remaining === 0) this.complete();
    return null;
  }
}

/** Content-Length is 1*DIGIT; more than 15 digits is refused (beyond exact Number arithmetic). */
function parseContentLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const d = value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function isChunkedOnly(te: string): boolean {
  return te.trim().toLowerCase() === 'chunked';
}

function keepAliveOf(minor: number, connection: string | undefined): boolean {
  if (connection === undefined) return minor === 1;
  const tokens = connection.toLowerCase();
  if (/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)) return false;
  return minor === 1 || /(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens);
}
