import { describe, expect, it } from 'vitest';
import { CLOCK_TICKS_PER_S, cpuSeconds, cpuTicks, runNanos, stealShare, threadTimes } from '../../../bench/proc-stats.ts';

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

  it('reads a CPU’s ticks, steal among them, and shares of an interval', () => {
    const a = cpuTicks('0');
    const until = performance.now() + 30;
    while (performance.now() < until);
    const b = cpuTicks('0');
    expect(a).not.toBeNull();
    expect((b?.total ?? 0) >= (a?.total ?? 0)).toBe(true);
    expect(a?.steal).toBeGreaterThanOrEqual(0);
    expect(stealShare({ busy: 10, total: 100, steal: 1 }, { busy: 60, total: 200, steal: 11 })).toBeCloseTo(0.1);
    expect(stealShare(a, null)).toBeNull();
  });

  it('reads how long a process has run in nanoseconds, and 0 for one that is gone', () => {
    const before = runNanos(process.pid);
    const until = performance.now() + 20;
    while (performance.now() < until);
    // 20 ms of spinning: at least 10 ms more on the clock, however the scheduler sliced it.
    expect(runNanos(process.pid) - before).toBeGreaterThan(10e6);
    expect(runNanos(2 ** 30)).toBe(0);
  });
});
