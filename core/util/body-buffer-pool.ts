// Reused memory for request bodies gathered whole (ctx.bufferRequestBody). Each body used to be a fresh
// megabyte-scale ArrayBuffer, and V8 answers that much external memory with full garbage collections: 6–15 ms
// pauses every few uploads, which is what other requests on the worker saw as p99 (measured with --trace-gc).
// Bodies are carved from SharedArrayBuffers in power-of-two size classes and given back once written upstream
// (releaseChunk); being shared, they reach an offload thread without a copy and without being detached.

const MIN_CLASS_BYTES = 64 * 1024;
const MAX_CLASS_BYTES = 64 * 1024 * 1024;
/** Free buffers kept per size class; beyond this they are left to the garbage collector. */
const MAX_FREE_PER_CLASS = 4;

const free = new Map<number, SharedArrayBuffer[]>();
const classOf = new WeakMap<ArrayBufferLike, number>();

function sizeClass(n: number): number {
  let c = MIN_CLASS_BYTES;
  while (c < n) c *= 2;
  return c;
}

/** `n` bytes of pooled shared memory, or null when `n` is outside the pooled sizes (allocate it plainly then). */
export function allocBodyBuffer(n: number): Buffer | null {
  if (n < MIN_CLASS_BYTES || n > MAX_CLASS_BYTES) return null;
  const c = sizeClass(n);
  const sab = free.get(c)?.pop() ?? new SharedArrayBuffer(c);
  classOf.set(sab, c);
  return Buffer.from(sab, 0, n);
}

/** True (and the memory is back in the pool) when `chunk` is a pooled body buffer. */
export function releaseBodyBuffer(chunk: Buffer): boolean {
  const c = classOf.get(chunk.buffer);
  if (c === undefined) return false;
  classOf.delete(chunk.buffer);
  let list = free.get(c);
  if (list === undefined) {
    list = [];
    free.set(c, list);
  }
  if (list.length < MAX_FREE_PER_CLASS) list.push(chunk.buffer as SharedArrayBuffer);
  return true;
}
