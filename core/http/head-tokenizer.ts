// The byte-level pieces both HTTP/1.1 parsers share (RFC 9112 §2.2, §5): gathering a message head across reads
// up to its CRLFCRLF, and scanning one field line strictly (token name, colon with no whitespace before it, OWS,
// field-value bytes, CRLF; no obs-fold, no bare CR or LF). Each parser maps the outcomes to its own failures.

import { COLON, CR, FIELD_VALUE_BYTE, HTAB, LF, SP, TCHAR } from './http-tokens.ts';

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const LF_LF = Buffer.from('\n\n');

export const HeadProblem = { Incomplete: -1, TooLarge: -2, LineTooLong: -3, BareLf: -4 } as const;
export type HeadProblem = (typeof HeadProblem)[keyof typeof HeadProblem];

/** Collects a head that may span several reads. Most heads arrive in one read and are never copied here. */
export class HeadAccumulator {
  private partial: Buffer | null = null;
  /**
   * Where the last take() found the complete head: data[headStart, headEnd) ends in CRLFCRLF. Offsets, not a
   * view, so the hot path allocates nothing; valid as long as the read is.
   */
  data: Buffer = Buffer.alloc(0);
  headStart = 0;
  headEnd = 0;

  get empty(): boolean {
    return this.partial === null;
  }

  reset(): void {
    this.partial = null;
  }

  /**
   * Looks for the end of the head from buf[pos]. Returns the position in `buf` just after it (and sets `data`, `headStart`, `headEnd`),
   * or a HeadProblem. `maxLineBytes` bounds the first line while its end has not arrived (414 for requests).
   */
  take(buf: Buffer, pos: number, maxBytes: number, maxLineBytes = Number.POSITIVE_INFINITY): number {
    const earlier = this.partial;
    const data = earlier === null ? buf : Buffer.concat([earlier, buf.subarray(pos)]);
    const start = earlier === null ? pos : 0;
    const from = earlier === null ? pos : Math.max(0, earlier.length - 3);
    const end = data.indexOf(CRLF_CRLF, from);
    if (end < 0) {
      if (data.length - start > maxLineBytes && data.indexOf(LF, start) < 0) return HeadProblem.LineTooLong;
      if (data.length - start > maxBytes) return HeadProblem.TooLarge;
      if (data.indexOf(LF_LF, from) >= 0) return HeadProblem.BareLf;
      this.partial = earlier === null ? Buffer.from(buf.subarray(pos)) : data;
      return HeadProblem.Incomplete;
    }
    if (end + 4 - start > maxBytes) return HeadProblem.TooLarge;
    this.data = data;
    this.headStart = start;
    this.headEnd = end + 4;
    this.partial = null;
    // Where the head ends in `buf`: directly, or past what the earlier reads contributed.
    return earlier === null ? end + 4 : pos + end + 4 - earlier.length;
  }
}

export const FieldProblem = { ObsFold: -1, BadName: -2, SpaceBeforeColon: -3, BareLf: -4, BadValueByte: -5, BareCr: -6 } as const;
export type FieldProblem = (typeof FieldProblem)[keyof typeof FieldProblem];

const FIELD_PROBLEM_TEXT: Record<number, string> = {
  [FieldProblem.ObsFold]: 'obsolete line folding (RFC 9112 §5.2)',
  [FieldProblem.BadName]: 'invalid header name',
  [FieldProblem.SpaceBeforeColon]: 'whitespace before colon (RFC 9112 §5.1)',
  [FieldProblem.BareLf]: 'bare LF in header',
  [FieldProblem.BadValueByte]: 'invalid byte in header value',
  [FieldProblem.BareCr]: 'bare CR in header',
};

export function fieldProblemText(problem: number): string {
  return FIELD_PROBLEM_TEXT[problem] ?? 'invalid header';
}

/**
 * Scans the field line at `p` (the head is known to end in CRLFCRLF, so scanning stops in bounds). Writes
 * [nameStart, nameEnd, valueStart, valueEnd] (value without surrounding OWS) into `span` and returns the
 * position after the line's CRLF, or a FieldProblem.
 */
export function scanField(data: Buffer, p: number, span: number[]): number {
  const first = data[p] as number;
  if (first === SP || first === HTAB) return FieldProblem.ObsFold;
  const nameStart = p;
  while (TCHAR[data[p] as number] === 1) p++;
  if (p === nameStart) return FieldProblem.BadName;
  if (data[p] !== COLON) return data[p] === SP || data[p] === HTAB ? FieldProblem.SpaceBeforeColon : FieldProblem.BadName;
  span[0] = nameStart;
  span[1] = p++;
  while (data[p] === SP || data[p] === HTAB) p++;
  span[2] = p;
  let valueEnd = p;
  for (;;) {
    const b = data[p] as number;
    if (b === CR) break;
    if (FIELD_VALUE_BYTE[b] === 0) return b === LF ? FieldProblem.BareLf : FieldProblem.BadValueByte;
    p++;
    if (b !== SP && b !== HTAB) valueEnd = p;
  }
  if (data[p + 1] !== LF) return FieldProblem.BareCr;
  span[3] = valueEnd;
  return p + 2;
}
