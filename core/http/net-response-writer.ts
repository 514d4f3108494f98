// Writes responses on a raw client socket for the `net` engine: the status line and fields, the body framed for
// the client's HTTP version (Content-Length, chunked for HTTP/1.1, close-delimited for HTTP/1.0), and interim
// responses. A head and the small body chunks after it gather in one latin1 string and leave in one write;
// a larger chunk is copied, with what was gathered before it, into pooled memory first, because the upstream
// hands over views of a read buffer it reuses, and a socket keeps a reference to what it could not send at once.

import type net from 'node:net';
import { allocPooledChunk, releaseChunk } from '../util/chunk-pool.ts';
import type { HeaderList } from './header-list.ts';
import { httpDate } from './http-date.ts';

const Framing = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const;
type Framing = (typeof Framing)[keyof typeof Framing];

/** Body chunks up to this size join the pending string; larger ones are written as pooled Buffers. */
const INLINE_CHUNK_BYTES = 4096;

export class NetResponseWriter {
  private readonly socket: net.Socket;
  /** Bytes gathered for the next write, one char per byte. */
  private out = '';
  private framing: Framing = Framing.None;
  private remaining = 0;
  private readonly inFlight: Buffer[] = [];
  private readonly onPooledWritten = (): void => {
    const chunk = this.inFlight.shift();
    if (chunk !== undefined) releaseChunk(chunk);
  };
  /** Set by `head()`: the connection must close once this response is complete. */
  closeAfter = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  /** True when the head of the current response has been produced. */
  started = false;

  reset(): void {
    this.framing = Framing.None;
    this.remaining = 0;
    this.started = false;
    this.closeAfter = false;
  }

  /**
   * The status line and fields. `http10` frames for an HTTP/1.0 client (no chunked coding: an unknown length is
   * close-delimited); `keepAlive` is what the client asked for; `closeAfter` is the proxy's own decision.
   */
  head(
    status: number,
    reason: string,
    headers: HeaderList,
    contentLength: number,
    bodyless: boolean,
    http10: boolean,
    keepAlive: boolean,
    closeAfter: boolean,
  ): void {
    let close = closeAfter || !keepAlive;
    let s = `HTTP/1.1 ${status} ${reason}\r\n`;
    const e = headers.entries;
    const upgrade = status === 101;
    for (let i = 0; i < e.length; i += 2) {
      // The engine decides persistence itself; a 101 keeps the Connection: upgrade its exchange needs.
      if (e[i] === 'connection' && !upgrade) continue;
      s += `${e[i]}: ${e[i + 1]}\r\n`;
    }
    s += `date: ${httpDate()}\r\n`;
    if (upgrade) {
      this.framing = Framing.None;
      close = false;
    } else if (bodyless) {
      this.framing = Framing.None;
      if (contentLength >= 0 && status !== 204 && status >= 200) s += `content-length: ${contentLength}\r\n`;
    } else if (contentLength >= 0) {
      this.framing = Framing.Length;
      this.remaining = contentLength;
      s += `content-length: ${contentLength}\r\n`;
    } else if (http10) {
      this.framing = Framing.UntilClose;
      close = true;
    } else {
      this.framing = Framing.Chunked;
      s += 'transfer-encoding: chunked\r\n';
    }
    if (!upgrade) {
      if (close) s += 'connection: close\r\n';
      else if (http10) s += 'connection: keep-alive\r\n';
    }
    this.out += `${s}\r\n`;
    this.closeAfter = close;
    this.started = true;
  }

  /** An interim response (100 Continue, 103 Early Hints); the caller checks the client speaks HTTP/1.1. */
  informational(status: number, reason: string, headers: HeaderList | null): void {
    let s = `HTTP/1.1 ${status} ${reason}\r\n`;
    if (headers !== null) {
      const e = headers.entries;
      for (let i = 0; i < e.length; i += 2) s += `${e[i]}: ${e[i + 1]}\r\n`;
    }
    this.out += `${s}\r\n`;
  }

  /** Body bytes; false when the socket is backpressured. Tunnel bytes use the None framing (raw). */
  body(chunk: Buffer): boolean {
    const n = chunk.length;
    if (n === 0) return !this.socket.writableNeedDrain;
    const chunked = this.framing === Framing.Chunked;
    if (this.framing === Framing.Length) this.remaining -= n;
    if (chunked) this.out += `${n.toString(16)}\r\n`;
    if (n <= INLINE_CHUNK_BYTES) {
      this.out += chunk.toString('latin1', 0, n);
      if (chunked) this.out += '\r\n';
      return !this.socket.writableNeedDrain;
    }
    // One pooled buffer for what was gathered (head, chunk-size line), the chunk and its CRLF: one plain write,
    // not a writev of a string and a buffer.
    const gathered = this.out;
    this.out = '';
    const pooled = allocPooledChunk(gathered.length + n + (chunked ? 2 : 0));
    let at = gathered.length === 0 ? 0 : pooled.write(gathered, 0, 'latin1');
    pooled.set(chunk, at);
    at += n;
    if (chunked) {
      pooled[at] = 0x0d;
      pooled[at + 1] = 0x0a;
    }
    this.inFlight.push(pooled);
    this.socket.write(pooled, this.onPooledWritten);
    return !this.socket.writableNeedDrain;
  }

  /** Completes the body framing; false when a Content-Length body ended short (the caller must close). */
  finish(): boolean {
    if (this.framing === Framing.Chunked) this.out += '0\r\n\r\n';
    else if (this.framing === Framing.Length && this.remaining !== 0) return false;
    return true;
  }

  /** A local reply, whole. `body` is UTF-8 text. */
  whole(status: number, reason: string, headers: readonly string[], body: string, headOnly: boolean, http10: boolean, close: boolean): void {
    this.out += wholeResponseText(status, reason, headers, body, headOnly, http10, close);
    this.closeAfter = close;
    this.started = true;
    this.framing = Framing.None;
  }

  /** Writes what was gathered. */
  flush(): void {
    if (this.out === '') return;
    const s = this.out;
    this.out = '';
    this.socket.write(s, 'latin1');
  }

  /** Drops what was gathered (the connection is being destroyed). */
  discard(): void {
    this.out = '';
  }
}

/** A whole response as latin1 text (the native engine sends local replies in this form too). `body` is UTF-8 text. */
export function wholeResponseText(
  status: number,
  reason: string,
  headers: readonly string[],
  body: string,
  headOnly: boolean,
  http10: boolean,
  close: boolean,
): string {
  const bytes = Buffer.from(body, 'utf8');
  let s = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) s += `${headers[i]}: ${headers[i + 1]}\r\n`;
  s += `date: ${httpDate()}\r\ncontent-length: ${bytes.length}\r\n`;
  if (close) s += 'connection: close\r\n';
  else if (http10) s += 'connection: keep-alive\r\n';
  s += '\r\n';
  return headOnly ? s : s + bytes.toString('latin1');
}
