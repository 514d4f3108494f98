// GC counters (core/gc-stats.ts) fed by the heap guard's observer with this process's own collections: a forced
// full collection is counted as major, garbage makes scavenges, and summing over workers keeps the longest pause.

import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { addGcCounters, type GcCounters, newGcCounters, recordGc, roundedGcCounters } from '../../../core/gc-stats.ts';
import { HeapGuard } from '../../../core/heap-guard.ts';

v8.setFlagsFromString('--expose-gc');
const forceFullGc = vm.runInNewContext('gc') as () => void;
let sink: unknown = null;

/** Waits until the observer has delivered (entries come after the collection, on the event loop). */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('gc counters', () => {
  it('counts real collections: a forced full one as major, garbage as scavenges', async () => {
    const gc = newGcCounters();
    const guard = new HeapGuard(
      Number.MAX_SAFE_INTEGER,
      () => {},
      (entry) => recordGc(gc, entry),
    );
    guard.start();
    forceFullGc();
    await until(() => gc.gcMajorCollections > 0);
    expect(gc.gcMajorCollections).toBeGreaterThanOrEqual(1);
    expect(gc.gcMajorPauseMs).toBeGreaterThan(0);

    const majors = gc.gcMajorCollections;
    const before = gc.gcCollections;
    // Short-lived: each object escapes to `sink` (else the optimizer may remove the allocation) and dies at the next.
    for (let i = 0; i < 400_000; i++) sink = { i, s: `x${i}` };
    await until(() => gc.gcCollections > before);
    expect(sink).toEqual({ i: 399_999, s: 'x399999' });
    expect(gc.gcCollections).toBeGreaterThan(before);
    expect(gc.gcCollections).toBeGreaterThanOrEqual(gc.gcMajorCollections);
    expect(gc.gcPauseMs).toBeGreaterThanOrEqual(gc.gcMajorPauseMs);
    expect(gc.gcLongestPauseMs).toBeGreaterThan(0);
    expect(gc.gcLongestPauseMs).toBeLessThanOrEqual(gc.gcPauseMs);
    expect(gc.gcMajorCollections).toBeGreaterThanOrEqual(majors);
  });

  it('sums workers, keeping the longest pause, and counts a field an older worker did not send as 0', () => {
    const total = newGcCounters();
    const a: GcCounters = { gcCollections: 10, gcPauseMs: 4.5, gcMajorCollections: 1, gcMajorPauseMs: 3, gcLongestPauseMs: 3 };
    addGcCounters(total, a);
    addGcCounters(total, { gcCollections: 5, gcPauseMs: 7.25, gcLongestPauseMs: 6 });
    addGcCounters(total, {});
    expect(total).toEqual({ gcCollections: 15, gcPauseMs: 11.75, gcMajorCollections: 1, gcMajorPauseMs: 3, gcLongestPauseMs: 6 });
  });

  it('rounds times to microseconds for /stats', () => {
    const c = { ...newGcCounters(), gcPauseMs: 1.23456789, gcLongestPauseMs: 0.0004 };
    expect(roundedGcCounters(c)).toMatchObject({ gcPauseMs: 1.235, gcLongestPauseMs: 0 });
  });
});
