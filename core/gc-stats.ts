// This thread's garbage-collection pauses, for /stats: how many collections, how long they held up JavaScript, and
// the longest — the first thing to look at when a proxy whose filters run on V8 shows a p99 stall. Fed by the
// observer the heap guard already runs (core/heap-guard.ts): one callback per batch of collections, none when idle.

import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

export interface GcCounters {
  /** Collections of every kind: scavenges, mark-compacts, incremental marking steps, weak callbacks. */
  gcCollections: number;
  /** Their pauses added up, in milliseconds. */
  gcPauseMs: number;
  /** Full (mark-compact) collections: the long pauses. */
  gcMajorCollections: number;
  gcMajorPauseMs: number;
  /** The longest single pause (the largest over workers in /stats). */
  gcLongestPauseMs: number;
}

export function newGcCounters(): GcCounters {
  return { gcCollections: 0, gcPauseMs: 0, gcMajorCollections: 0, gcMajorPauseMs: 0, gcLongestPauseMs: 0 };
}

/** Counts one `gc` performance entry (its `duration` is the pause, its `detail.kind` which collection). */
export function recordGc(c: GcCounters, entry: PerformanceEntry): void {
  const ms = entry.duration;
  c.gcCollections++;
  c.gcPauseMs += ms;
  // `detail` is on gc entries since Node 16; this @types/node leaves it out of PerformanceEntry.
  if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
    c.gcMajorCollections++;
    c.gcMajorPauseMs += ms;
  }
  if (ms > c.gcLongestPauseMs) c.gcLongestPauseMs = ms;
}

/** Adds `c` into `total`; the longest pause is the larger one. Fields a worker did not send count as 0. */
export function addGcCounters(total: GcCounters, c: Partial<GcCounters>): void {
  total.gcCollections += c.gcCollections ?? 0;
  total.gcPauseMs += c.gcPauseMs ?? 0;
  total.gcMajorCollections += c.gcMajorCollections ?? 0;
  total.gcMajorPauseMs += c.gcMajorPauseMs ?? 0;
  total.gcLongestPauseMs = Math.max(total.gcLongestPauseMs, c.gcLongestPauseMs ?? 0);
}

/** Milliseconds rounded to whole microseconds, for JSON a person reads. */
export const toWholeMicroseconds = (ms: number): number => Math.round(ms * 1000) / 1000;

/** A copy with the times rounded to microseconds. */
export function roundedGcCounters(c: GcCounters): GcCounters {
  const r = toWholeMicroseconds;
  return {
    gcCollections: c.gcCollections,
    gcPauseMs: r(c.gcPauseMs),
    gcMajorCollections: c.gcMajorCollections,
    gcMajorPauseMs: r(c.gcMajorPauseMs),
    gcLongestPauseMs: r(c.gcLongestPauseMs),
  };
}

/**
 * Counts this thread's collections into `c` from now on, for a thread without a heap guard (the supervisor's main
 * thread: it shares the workers' cores, so its pauses are theirs to explain too). Returns the stop.
 */
export function watchGc(c: GcCounters): () => void {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) recordGc(c, entry);
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

/** This thread's heap as /stats shows it (summed over the workers). */
export interface HeapSizes {
  /** The JavaScript heap in use: a worker past `workerHeapMb` of it is restarted (core/heap-guard.ts). */
  heapUsedBytes: number;
  /** The young generation's size: where scavenges happen, kept at 8 MiB or more (core/node-flags.ts). */
  youngGenerationBytes: number;
}

/** Read when /stats is: V8 copies its figures out, nothing is kept. */
export function heapSizes(): HeapSizes {
  const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return { heapUsedBytes: v8.getHeapStatistics().used_heap_size, youngGenerationBytes: young?.space_size ?? 0 };
}
