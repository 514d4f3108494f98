import { describe, expect, it } from 'vitest';
import { copyToPooledChunk, releaseChunk } from '../../../../core/util/chunk-pool.ts';

describe('chunk pool', () => {
  it('copies the bytes (the source may be neutered afterwards)', () => {
    const src = new Uint8Array([1, 2, 3]);
    const chunk = copyToPooledChunk(src);
    src.fill(9);
    expect([...chunk]).toEqual([1, 2, 3]);
    releaseChunk(chunk);
  });

  it('reuses a slab only once every chunk carved from it was released', () => {
    const big = new Uint8Array(400 * 1024);
    const held = copyToPooledChunk(big.fill(7));
    const chunks = [held];
    // Fill past one slab (2 MiB): the next chunks must come from another slab while `held` is live.
    for (let i = 0; i < 8; i++) chunks.push(copyToPooledChunk(big.fill(i)));
    expect(chunks.some((c) => c.buffer !== held.buffer)).toBe(true);
    expect(held.every((b) => b === 7)).toBe(true);
    for (const c of chunks) releaseChunk(c);
    const again = copyToPooledChunk(new Uint8Array(16).fill(5));
    expect(chunks.some((c) => c.buffer === again.buffer)).toBe(true);
    releaseChunk(again);
  });

  it('hands out empty chunks without tying up a slab', () => {
    const empty = copyToPooledChunk(new Uint8Array(0));
    expect(empty.length).toBe(0);
    expect(() => releaseChunk(empty)).not.toThrow();
  });

  it('leaves chunks larger than a quarter slab unpooled, and ignores foreign buffers on release', () => {
    const huge = copyToPooledChunk(new Uint8Array(1024 * 1024));
    expect(huge.length).toBe(1024 * 1024);
    expect(() => releaseChunk(huge)).not.toThrow();
    expect(() => releaseChunk(Buffer.from('x'))).not.toThrow();
  });
});
