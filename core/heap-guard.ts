// A worker's soft heap limit (core/worker.ts says why it is soft). The heap only grows by allocating, and allocating
// means collections — a scavenge at least every time the young generation fills (16 MiB at most) — so the check
// runs after each collection, read from a PerformanceObserver, and not on a timer: a timer wakes an idle worker for
// nothing (a 100 ms one woke it ten times a second, most of an idle proxy's wake-ups: README, "Idle cost"). The
// worker checks too whenever the supervisor asks for its counters, as a backstop for an allocation V8 made without
// collecting first (a heap that grows further collects, and is checked then).

import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

export class HeapGuard {
  private readonly limitBytes: number;
  private readonly onExceeded: (usedBytes: number) => void;
  private readonly onCollection: ((entry: PerformanceEntry) => void) | undefined;
  private observer: PerformanceObserver | null = null;
  private tripped = false;

  /**
   * `onExceeded` runs once, the first time the used heap is found above `limitBytes`; `onCollection`, if given,
   * sees every collection's performance entry (core/gc-stats.ts counts them), also after the limit tripped.
   */
  constructor(limitBytes: number, onExceeded: (usedBytes: number) => void, onCollection?: (entry: PerformanceEntry) => void) {
    this.limitBytes = limitBytes;
    this.onExceeded = onExceeded;
    this.onCollection = onCollection;
  }

  /** Checks after every garbage collection from now on. */
  start(): void {
    if (this.observer !== null) return;
    this.observer = new PerformanceObserver((list) => {
      if (this.onCollection !== undefined) for (const entry of list.getEntries()) this.onCollection(entry);
      this.check();
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** Compares the used heap with the limit now. */
  check(): void {
    if (this.tripped) return;
    const used = v8.getHeapStatistics().used_heap_size;
    if (used <= this.limitBytes) return;
    this.tripped = true;
    this.onExceeded(used);
  }
}
