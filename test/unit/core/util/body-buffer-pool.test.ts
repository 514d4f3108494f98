import { describe, expect, it } from 'vitest';
import { allocBodyBuffer } from '../../../../core/util/body-buffer-pool.ts';
import { releaseChunk } from '../../../../core/util/chunk-pool.ts';

describe('body buffer pool', () => {
  it('serves bodies from shared memory in power-of-two classes, and reuses memory given back', () => {
    const a = allocBodyBuffer(1_000_000) as Buffer;
    expect(a.length).toBe(1_000_000);
    expect(a.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(a.buffer.byteLength).toBe(1 << 20);
    const memory = a.buffer;
    releaseChunk(a);
    const b = allocBodyBuffer(700_000) as Buffer;
    expect(b.buffer).toBe(memory);
    // Not given back yet: the next body of that class gets other memory.
    expect((allocBodyBuffer(900_000) as Buffer).buffer).not.toBe(memory);
  });

  it('leaves small and huge bodies to plain allocation', () => {
    expect(allocBodyBuffer(1000)).toBeNull();
    expect(allocBodyBuffer(128 * 1024 * 1024)).toBeNull();
  });

  it('gives memory back once only, however often a chunk is released', () => {
    const a = allocBodyBuffer(100_000) as Buffer;
    releaseChunk(a);
    releaseChunk(a);
    const b = allocBodyBuffer(100_000) as Buffer;
    const c = allocBodyBuffer(100_000) as Buffer;
    expect(b.buffer).not.toBe(c.buffer);
  });
});
