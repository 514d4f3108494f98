import { describe, expect, it } from 'vitest';
import { CLOCK_TICKS_PER_S, cpuSeconds, threadTimes } from '../../../bench/proc-stats.ts';

describe('bench /proc readings', () => {
  it('reads the process and its threads, the main thread (tid = pid) included, in the same ticks', () => {
    const until = performance.now() + 50;
    while (performance.now() < until); // some CPU time to count
    const threads = threadTimes(process.pid);
    const main = threads.get(String(process.pid));
    expect(main).toBeDefined();
    expect(main?.name.length).toBeGreaterThan(0);
    const ticks = [...threads.values()].reduce((a, t) => a + t.user + t.system, 0);
    expect(ticks).toBeGreaterThan(0);
    // The process's own total is its threads' (those alive now, and those that ended), read a moment later.
    expect(cpuSeconds(process.pid)).toBeGreaterThanOrEqual((main?.user ?? 0) / CLOCK_TICKS_PER_S);
  });
});
