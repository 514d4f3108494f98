// A request body gathered whole for a filter that asked for it (ctx.bufferRequestBody). With a Content-Length the
// memory is taken once, at its size, from the body buffer pool (reused shared memory, given back when written
// upstream) and each chunk is copied in; a chunked body collects copies and joins them at the end. Fresh
// megabyte buffers per body made the garbage collector pause the worker's other requests (p99).

import { allocBodyBuffer } from '../util/body-buffer-pool.ts';

export class WholeBody {
  private readonly exact: Buffer | null;
  private readonly parts: Buffer[] | null;
  private filled = 0;

  /** `expectedBytes`: the Content-Length when known (and within the limit), else -1. */
  constructor(expectedBytes: number) {
    this.exact = expectedBytes >= 0 ? (allocBodyBuffer(expectedBytes) ?? Buffer.allocUnsafeSlow(expectedBytes)) : null;
    this.parts = this.exact === null ? [] : null;
  }

  /** Copies `chunk` (the caller keeps it). */
  add(chunk: Buffer): void {
    const n = chunk.length;
    if (n === 0) return;
    const exact = this.exact;
    // The parser holds a body to its Content-Length, so an exact buffer never overflows.
    if (exact !== null) chunk.copy(exact, this.filled);
    else (this.parts as Buffer[]).push(Buffer.from(chunk));
    this.filled += n;
  }

  /** Bytes gathered so far. */
  get size(): number {
    return this.filled;
  }

  take(): Buffer {
    if (this.exact !== null) return this.filled === this.exact.length ? this.exact : this.exact.subarray(0, this.filled);
    const parts = this.parts as Buffer[];
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, this.filled);
  }
}
