// Strict, incremental HTTP/1.1 request parser for the `net` downstream engine (RFC 9112). It accepts what the RFC
// allows (HTTP/1.0, absolute-form targets, chunk extensions, request trailers, obs-text in values, pipelining) and
// rejects what a proxy must, with the status to answer. The head becomes one latin1 string (one char per byte, so
// obs-text survives) and header fields are offsets into it: the forwarded head is sliced from it, and a field
// becomes a string of its own only when asked for.

import { ChunkedDecoder } from './chunked-decoder.ts';
import { fieldProblemText, HeadAccumulator, HeadProblem, scanField } from './head-tokenizer.ts';
import { CR, LF, SP, TCHAR } from './http-tokens.ts';

export interface RequestParserLimits {
  /** Request line plus fields, in bytes (431 above it; 414 when the request line alone exceeds maxUriBytes). */
  maxHeadBytes: number;
  maxUriBytes: number;
  /** Number of header fields (431 above it). */
  maxFields: number;
}

export interface RequestParseError {
  status: 400 | 414 | 431 | 505;
  detail: string;
}

/** One parsed request head. `text` holds the head; `fields` holds 4 offsets per field into it. */
export class ParsedRequest {
  /** The whole head, request line to the final CRLF, one char per byte. */
  readonly text: string;
  readonly method: string;
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: number;
  /** [nameStart, nameEnd, valueStart, valueEnd] per field, offsets into `head`. */
  readonly fields: readonly number[];
  /** The authority the request is for: the absolute-form target's, else the Host field's (RFC 9112 §3.2.2). */
  host = '';
  contentLength = -1;
  chunked = false;
  keepAlive = true;
  expectContinue = false;
  /** The Upgrade field's value, when the request asks for one (with Connection: upgrade). */
  upgrade = '';
  /**
   * Indices of the fields a proxy never forwards as they are: hop-by-hop fields (RFC 9110 §7.6.1), Expect (the
   * proxy answers it) and Content-Length (the encoder frames the body itself); null when there are none.
   */
  hopByHop: number[] | null = null;
  /** Index of the Host field, or -1. */
  hostField = -1;
  /** `host` comes from an absolute-form target, not from the Host field (RFC 9112 §3.2.2). */
  hostFromTarget = false;
  /** Connection names fields besides its own options (close, keep-alive, upgrade): those are hop-by-hop too. */
  connectionListsFields = false;

  constructor(text: string, method: string, target: string, minor: number, fields: number[]) {
    this.text = text;
    this.method = method;
    this.target = target;
    this.minor = minor;
    this.fields = fields;
  }

  get fieldCount(): number {
    return this.fields.length >> 2;
  }

  /** Field `i`'s name, lower-cased (made on demand). */
  name(i: number): string {
    return this.text.slice(this.fields[i * 4] as number, this.fields[i * 4 + 1] as number).toLowerCase();
  }

  /** Field `i`'s value, one char per byte (obs-text kept). */
  value(i: number): string {
    return this.text.slice(this.fields[i * 4 + 2] as number, this.fields[i * 4 + 3] as number);
  }
}

export interface RequestParserHandler {
  onRequestHead(req: ParsedRequest): void;
  /** A view of the caller's buffer, valid only during the call. */
  onRequestBody(chunk: Buffer): void;
  onRequestComplete(): void;
}

const State = { Head: 0, BodyLength: 1, Chunked: 2, Failed: 3 } as const;
type State = (typeof State)[keyof typeof State];

/** Scratch for scanField: fields are scanned one at a time and consumed at once. */
const FIELD_SPAN = [0, 0, 0, 0];

export class RequestParser {
  private readonly handler: RequestParserHandler;
  private readonly limits: RequestParserLimits;
  private readonly chunkedBody = new ChunkedDecoder();
  private state: State = State.Head;
  private readonly headBytes = new HeadAccumulator();
  private remaining = 0;
  private paused = false;
  /** How many bytes of the last execute() input were consumed (less than all when paused). */
  consumed = 0;

  constructor(handler: RequestParserHandler, limits: RequestParserLimits) {
    this.handler = handler;
    this.limits = limits;
  }

  /** Called from a handler callback: stop after it (pipelined requests wait; `consumed` says where). */
  pause(): void {
    this.paused = true;
  }

  /** True between requests: no byte of a next request has been read. */
  get idle(): boolean {
    return this.state === State.Head && this.headBytes.empty;
  }

  /** Feeds bytes; returns an error (and stops for good) on anything a proxy must refuse. */
  execute(buf: Buffer): RequestParseError | null {
    this.paused = false;
    let pos = 0;
    const len = buf.length;
    while (pos < len && !this.paused) {
      switch (this.state) {
        case State.Head: {
          const r = this.consumeHead(buf, pos);
          if (typeof r !== 'number') return this.fail(r);
          if (r < 0) {
            pos = len;
            break;
          }
          pos = r;
          break;
        }
        case State.BodyLength: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          this.handler.onRequestBody(buf.subarray(pos, pos + n));
          pos += n;
          if (this.remaining === 0 && this.state === State.BodyLength) this.complete();
          break;
        }
        case State.Chunked: {
          const next = this.chunkedBody.decode(buf, pos);
          if (next < 0) return this.fail({ status: 400, detail: this.chunkedBody.error });
          pos = next;
          const data = this.chunkedBody.data;
          if (data !== null) this.handler.onRequestBody(data);
          if (this.chunkedBody.done && this.state === State.Chunked) this.complete();
          break;
        }
        case State.Failed:
          this.consumed = pos;
          return null;
      }
    }
    this.consumed = pos;
    return null;
  }

  private fail(e: RequestParseError): RequestParseError {
    this.state = State.Failed;
    return e;
  }

  private complete(): void {
    this.state = State.Head;
    this.handler.onRequestComplete();
  }

  /** Returns the position after the head, -1 when more bytes are needed, or an error. */
  private consumeHead(buf: Buffer, pos: number): number | RequestParseError {
    const next = this.headBytes.take(buf, pos, this.limits.maxHeadBytes, this.limits.maxUriBytes);
    if (next === HeadProblem.Incomplete) return -1;
    if (next === HeadProblem.LineTooLong) return { status: 414, detail: 'request target too long' };
    if (next === HeadProblem.TooLarge) return { status: 431, detail: 'request head too large' };
    if (next < 0) return { status: 400, detail: 'bare LF in request head' };
    // Parsed in place; what must outlive this read (the caller's buffer may be reused) is the head's string.
    const h = this.headBytes;
    const r = this.parseHead(h.data.subarray(h.headStart, h.headEnd));
    return r ?? next;
  }

  private parseHead(head: Buffer): RequestParseError | null {
    // request-line = method SP request-target SP HTTP-version CRLF (RFC 9112 §3)
    let p = 0;
    while (TCHAR[head[p] as number] === 1) p++;
    if (p === 0 || head[p] !== SP) return { status: 400, detail: 'invalid method' };
    const text = head.toString('latin1');
    const method = text.slice(0, p);
    const targetStart = ++p;
    while (p < head.length && (head[p] as number) > SP && head[p] !== 0x7f) p++;
    if (p === targetStart || head[p] !== SP) return { status: 400, detail: 'invalid request target' };
    if (p - targetStart > this.limits.maxUriBytes) return { status: 414, detail: 'request target too long' };
    const target = text.slice(targetStart, p);
    p++;
    if (!text.startsWith('HTTP/', p) || head[p + 6] !== 0x2e) return { status: 400, detail: 'invalid HTTP version' };
    const major = (head[p + 5] as number) - 0x30;
    const minor = (head[p + 7] as number) - 0x30;
    if (major < 0 || major > 9 || minor < 0 || minor > 9) return { status: 400, detail: 'invalid HTTP version' };
    if (major !== 1 || minor > 1) return { status: 505, detail: `HTTP/${major}.${minor} is not supported` };
    p += 8;
    if (head[p] !== CR || head[p + 1] !== LF) return { status: 400, detail: 'invalid request line ending' };
    p += 2;

    const fields: number[] = [];
    let hosts = 0;
    let host = '';
    let contentLengths = 0;
    let contentLength = -1;
    let transferEncoding: string | undefined;
    let connection = '';
    let upgrade = '';
    let expect = '';
    let hopByHop: number[] | null = null;
    let hostField = -1;
    const end = head.length - 2;
    const span = FIELD_SPAN;
    while (p < end) {
      const next = scanField(head, p, span);
      if (next < 0) return { status: 400, detail: fieldProblemText(next) };
      p = next;
      const [nameStart, nameEnd, valueStart, valueEnd] = span as [number, number, number, number];
      fields.push(nameStart, nameEnd, valueStart, valueEnd);
      if (fields.length > this.limits.maxFields * 4) return { status: 431, detail: 'too many header fields' };
      const nameLen = nameEnd - nameStart;
      const index = (fields.length >> 2) - 1;
      // Only the fields that decide framing and routing become strings here; hop-by-hop ones are marked.
      let hop = false;
      if (nameLen === 4 && isName(head, nameStart, 'host')) {
        hosts++;
        hostField = index;
        host = text.slice(valueStart, valueEnd);
      } else if (nameLen === 14 && isName(head, nameStart, 'content-length')) {
        hop = true;
        contentLengths++;
        contentLength = parseDigits(head, valueStart, valueEnd);
        if (contentLength < 0) return { status: 400, detail: 'invalid Content-Length' };
      } else if (nameLen === 17 && isName(head, nameStart, 'transfer-encoding')) {
        hop = true;
        const v = text.slice(valueStart, valueEnd);
        transferEncoding = transferEncoding === undefined ? v : `${transferEncoding}, ${v}`;
      } else if (nameLen === 10 && isName(head, nameStart, 'connection')) {
        hop = true;
        connection += `${connection ? ',' : ''}${text.slice(valueStart, valueEnd).toLowerCase()}`;
      } else if (nameLen === 7 && isName(head, nameStart, 'upgrade')) {
        hop = true;
        upgrade = text.slice(valueStart, valueEnd);
      } else if (nameLen === 6 && isName(head, nameStart, 'expect')) {
        hop = true;
        expect = text.slice(valueStart, valueEnd).toLowerCase();
      } else {
        hop = isOtherHopByHop(head, nameStart, nameLen);
      }
      if (hop) {
        if (hopByHop === null) hopByHop = [];
        hopByHop.push(index);
      }
    }

    const req = new ParsedRequest(text, method, target, minor, fields);
    req.hopByHop = hopByHop;
    req.hostField = hostField;
    // Framing (RFC 9112 §6): ambiguity is refused, never guessed.
    if (contentLengths > 1) return { status: 400, detail: 'repeated Content-Length' };
    if (transferEncoding !== undefined) {
      if (minor === 0) return { status: 400, detail: 'Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)' };
      if (contentLengths > 0) return { status: 400, detail: 'Transfer-Encoding with Content-Length (RFC 9112 §6.1)' };
      if (transferEncoding.trim().toLowerCase() !== 'chunked') return { status: 400, detail: 'transfer coding other than a single chunked' };
      req.chunked = true;
    } else {
      req.contentLength = contentLength;
    }
    // Host (RFC 9112 §3.2): exactly one in HTTP/1.1; an absolute-form target's authority overrides it (§3.2.2).
    if (hosts > 1) return { status: 400, detail: 'repeated Host' };
    if (hosts === 1 && !isValidHost(host)) return { status: 400, detail: 'invalid Host' };
    const authority = targetAuthority(method, target);
    if (authority === null) return { status: 400, detail: 'invalid request target form (RFC 9112 §3.2)' };
    if (authority !== '') {
      host = authority;
      req.hostFromTarget = true;
    } else if (hosts === 0 && minor === 1) return { status: 400, detail: 'missing Host (RFC 9112 §3.2)' };
    req.host = host;
    if (connection === '') {
      req.keepAlive = minor === 1;
    } else {
      const tokens = connection.split(',').map((t) => t.trim());
      req.keepAlive = minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive');
      if (upgrade !== '' && tokens.includes('upgrade')) req.upgrade = upgrade;
      req.connectionListsFields = tokens.some((t) => t !== '' && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade');
    }
    req.expectContinue = expect === '100-continue';

    this.handler.onRequestHead(req);
    if (this.state === State.Failed) return null;
    if (req.chunked) {
      this.state = State.Chunked;
      this.chunkedBody.reset(this.limits.maxHeadBytes);
    } else if (req.contentLength > 0) {
      this.state = State.BodyLength;
      this.remaining = req.contentLength;
    } else {
      this.complete();
    }
    return null;
  }
}

/** Case-insensitive compare of the field name at `start` with a lower-case name of the same length. */
function isName(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * The hop-by-hop fields not already looked at for framing (RFC 9110 §7.6.1; Proxy-Connection and HTTP2-Settings too):
 * header-rules.ts's HOP_BY_HOP, matched on bytes here so the fast path makes no string per field. Keep them alike.
 */
function isOtherHopByHop(buf: Buffer, start: number, nameLen: number): boolean {
  switch (nameLen) {
    case 2:
      return isName(buf, start, 'te');
    case 7:
      return isName(buf, start, 'trailer');
    case 10:
      return isName(buf, start, 'keep-alive');
    case 14:
      return isName(buf, start, 'http2-settings');
    case 16:
      return isName(buf, start, 'proxy-connection');
    default:
      return false;
  }
}

/** 1*DIGIT, at most 15 digits; -1 otherwise. */
function parseDigits(buf: Buffer, start: number, end: number): number {
  if (end === start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = (buf[i] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** uri-host [":" port]: no whitespace, userinfo, path or query characters. */
function isValidHost(host: string): boolean {
  return host !== '' && /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(:\d{0,5})?$/.test(host);
}

/**
 * The authority a target names: '' for origin-form ('/…') and asterisk-form ('*', OPTIONS only), the authority
 * of an absolute-form http(s) target or of an authority-form target (CONNECT only); null for anything else.
 */
function targetAuthority(method: string, target: string): string | null {
  if (target.charCodeAt(0) === 0x2f) return method === 'CONNECT' ? null : '';
  if (target === '*') return method === 'OPTIONS' ? '' : null;
  if (method === 'CONNECT') return isValidHost(target) && /:\d+$/.test(target) ? target.toLowerCase() : null;
  const m = /^https?:\/\/([^/?#@]+)(?:[/?#]|$)/i.exec(target);
  return m !== null && isValidHost(m[1] as string) ? (m[1] as string).toLowerCase() : null;
}
