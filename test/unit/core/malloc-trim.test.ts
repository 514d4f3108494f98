// The C heap's free pages go back to the system: memory freed in the middle of an arena (where glibc's own trimming
// at the top cannot reach it) leaves the process's resident set once trimNativeHeap() runs.

import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { trimNativeHeap } from '../../../core/malloc-trim.ts';

const MiB = 1024 * 1024;

describe('trimNativeHeap', () => {
  it('gives back memory freed between live allocations', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    // 64 MiB in 32 KiB buffers (below malloc's mmap threshold: they come from an arena), written so their pages are
    // resident; then every buffer but one in sixteen is dropped and collected. The survivors pin the arena's top.
    let buffers: Buffer[] = [];
    for (let i = 0; i < 2048; i++) buffers.push(Buffer.alloc(32 * 1024, 1));
    const kept = buffers.filter((_, i) => i % 16 === 15);
    buffers = [];
    gc();
    gc();
    const r = trimNativeHeap();
    expect(r).not.toBeNull();
    if (r === null) return;
    expect(r.rssBeforeBytes - r.rssAfterBytes).toBeGreaterThan(16 * MiB);
    expect(r.ms).toBeLessThan(1000);
    expect(kept.every((b) => b[0] === 1 && b.length === 32 * 1024)).toBe(true);
  });
});
