// Decodes a chunked message body (RFC 9112 §7.1), shared by the request and response parsers: hex sizes of at
// most 13 digits, chunk extensions validated and skipped, data handed on as views, trailers validated and
// dropped (never merged into the head). Strict: every line ends in CRLF.

import { CR, FIELD_VALUE_BYTE, HEX_VALUE, HTAB, LF, SP, TCHAR } from './http-tokens.ts';

/** Chunk sizes above 2^52 are refused: they exceed exact Number arithmetic and no real body is that large. */
const MAX_CHUNK_SIZE_DIGITS = 13;
const MAX_CHUNK_EXTENSION_BYTES = 4096;
const SEMICOLON = 0x3b;

const Step = {
  Size: 0,
  Extension: 1,
  SizeLf: 2,
  Data: 3,
  DataCr: 4,
  DataLf: 5,
  TrailerLineStart: 6,
  TrailerLine: 7,
  TrailerLineLf: 8,
  FinalLf: 9,
  Done: 10,
} as const;
type Step = (typeof Step)[keyof typeof Step];

export class ChunkedDecoder {
  private step: Step = Step.Size;
  private remaining = 0;
  private digits = 0;
  private extensionBytes = 0;
  private trailerBytes = 0;
  private maxTrailerBytes = 0;
  /** Set when decode() returned -1. */
  error = '';
  /** The data chunk found by the last decode() call, or null. Valid only as long as its buffer is. */
  data: Buffer | null = null;

  reset(maxTrailerBytes: number): void {
    this.step = Step.Size;
    this.remaining = 0;
    this.digits = 0;
    this.trailerBytes = 0;
    this.maxTrailerBytes = maxTrailerBytes;
    this.error = '';
    this.data = null;
  }

  get done(): boolean {
    return this.step === Step.Done;
  }

  /** True while inside a chunk's data (a close now truncates the body). */
  get started(): boolean {
    return this.step !== Step.Size || this.digits > 0;
  }

  /**
   * Consumes bytes from `pos`. Returns the new position, or -1 on a framing error (see `error`). It stops right
   * after finding a data chunk (in `data`) so the caller can hand it on, and when the body is complete (`done`).
   */
  decode(buf: Buffer, pos: number): number {
    this.data = null;
    if (this.step === Step.Done) return pos;
    const len = buf.length;
    while (pos < len) {
      const c = buf[pos] as number;
      switch (this.step) {
        case Step.Size: {
          const v = HEX_VALUE[c] as number;
          pos++;
          if (v >= 0) {
            if (++this.digits > MAX_CHUNK_SIZE_DIGITS) return this.fail('chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            return this.fail('invalid chunk size');
          } else if (c === CR) {
            this.step = Step.SizeLf;
          } else if (c === SEMICOLON || c === SP || c === HTAB) {
            this.extensionBytes = 0;
            this.step = Step.Extension;
          } else {
            return this.fail('invalid chunk size');
          }
          break;
        }
        case Step.Extension:
          pos++;
          if (c === CR) this.step = Step.SizeLf;
          else if (FIELD_VALUE_BYTE[c] === 0) return this.fail('invalid byte in chunk extension');
          else if (++this.extensionBytes > MAX_CHUNK_EXTENSION_BYTES) return this.fail('chunk extension too long');
          break;
        case Step.SizeLf:
          pos++;
          if (c !== LF) return this.fail('bare CR after chunk size');
          this.step = this.remaining === 0 ? Step.TrailerLineStart : Step.Data;
          break;
        case Step.Data: {
          const n = Math.min(this.remaining, len - pos);
          this.remaining -= n;
          this.data = buf.subarray(pos, pos + n);
          if (this.remaining === 0) this.step = Step.DataCr;
          return pos + n;
        }
        case Step.DataCr:
          pos++;
          if (c !== CR) return this.fail('missing CRLF after chunk data');
          this.step = Step.DataLf;
          break;
        case Step.DataLf:
          pos++;
          if (c !== LF) return this.fail('missing CRLF after chunk data');
          this.step = Step.Size;
          this.remaining = 0;
          this.digits = 0;
          break;
        default: {
          pos++;
          if (++this.trailerBytes > this.maxTrailerBytes) return this.fail('trailers too large');
          if (this.trailer(c)) return pos;
          if (this.error !== '') return -1;
        }
      }
    }
    return pos;
  }

  /** One trailer byte; true when the body is complete. */
  private trailer(c: number): boolean {
    switch (this.step) {
      case Step.TrailerLineStart:
        if (c === CR) this.step = Step.FinalLf;
        else if (TCHAR[c] === 1) this.step = Step.TrailerLine;
        else this.fail('invalid trailer field');
        return false;
      case Step.TrailerLine:
        if (c === CR) this.step = Step.TrailerLineLf;
        else if (FIELD_VALUE_BYTE[c] === 0) this.fail('invalid byte in trailers');
        return false;
      case Step.TrailerLineLf:
        if (c !== LF) this.fail('bare CR in trailers');
        else this.step = Step.TrailerLineStart;
        return false;
      case Step.FinalLf:
        if (c !== LF) {
          this.fail('bare CR in trailers');
          return false;
        }
        this.step = Step.Done;
        return true;
      default:
        return false;
    }
  }

  private fail(detail: string): number {
    this.error = detail;
    return -1;
  }
}
