// Reused memory for request body chunks. uWS neuters the bytes it hands to onData when the callback returns, so
// each chunk must be copied once; copying into fresh Buffers made allocation and GC a third of a worker's CPU
// on 64 KiB uploads (profiled). Chunks are carved from 2 MiB slabs instead; a slab is reused once every chunk
// carved from it was released (after the upstream socket wrote it). A chunk never released (a lost write
// callback) only keeps its slab out of reuse: the garbage collector still frees it with its chunks.

import { releaseBodyBuffer } from './body-buffer-pool.ts';

const SLAB_BYTES = 2 * 1024 * 1024;
/** Released slabs kept for reuse; beyond this they are left to the garbage collector. */
const MAX_FREE_SLABS = 8;

interface Slab {
  readonly bytes: Buffer;
  used: number;
  live: number;
}

const EMPTY = Buffer.alloc(0);
const slabOf = new WeakMap<ArrayBufferLike, Slab>();
const free: Slab[] = [];
let current: Slab | null = null;

function newSlab(): Slab {
  const reused = free.pop();
  if (reused !== undefined) {
    reused.used = 0;
    return reused;
  }
  const slab: Slab = { bytes: Buffer.allocUnsafeSlow(SLAB_BYTES), used: 0, live: 0 };
  slabOf.set(slab.bytes.buffer, slab);
  return slab;
}

/** Copies `data` into pooled memory; the result must be passed to `releaseChunk` once it is no longer needed. */
export function copyToPooledChunk(data: Uint8Array): Buffer {
  const n = data.byteLength;
  // The empty last chunk of every body: no slab accounting (releasing it is a no-op).
  if (n === 0) return EMPTY;
  const chunk = allocPooledChunk(n);
  chunk.set(data);
  return chunk;
}

/** `n` bytes (n > 0) of pooled memory to fill; the result must be passed to `releaseChunk` once written. */
export function allocPooledChunk(n: number): Buffer {
  if (n > SLAB_BYTES / 4) return Buffer.allocUnsafeSlow(n);
  let slab = current;
  if (slab === null || slab.used + n > SLAB_BYTES) {
    if (slab !== null && slab.live === 0) {
      slab.used = 0;
    } else {
      slab = newSlab();
      current = slab;
    }
  }
  const chunk = slab.bytes.subarray(slab.used, slab.used + n);
  slab.used += n;
  slab.live++;
  return chunk;
}

/** Gives a chunk's memory back (a slab chunk, or a whole body: body-buffer-pool.ts). Others are ignored. */
export function releaseChunk(chunk: Buffer): void {
  const slab = slabOf.get(chunk.buffer);
  if (slab === undefined) {
    releaseBodyBuffer(chunk);
    return;
  }
  slab.live--;
  if (slab.live === 0 && slab !== current && free.length < MAX_FREE_SLABS) free.push(slab);
}
