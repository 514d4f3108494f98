// The offload pool on real threads: a task module runs with its input (a transferred buffer moves, not copied),
// and a module of the wrong shape is a typed error naming it (the threads' scheduling: test/integration/body-scan).

import { describe, expect, it } from 'vitest';
import { OffloadError, OffloadErrors, offload } from '../../../../core/offload/offload-pool.ts';

const SUM = new URL('../../../fixtures/offload/sum-bytes.ts', import.meta.url).href;
const WRONG = new URL('../../../fixtures/offload/not-a-function.ts', import.meta.url).href;
const SPIN = new URL('../../../fixtures/offload/spin.ts', import.meta.url).href;
const OPTIONS = { timeoutMs: 10_000, maxQueue: 4 };

describe('offload pool', () => {
  it('runs a task module with its input; a transferred buffer moves to the pool thread', async () => {
    const ab = new ArrayBuffer(4);
    new Uint8Array(ab).set([1, 2, 3, 250]);
    expect(await offload<number>(SUM, { bytes: new Uint8Array(ab) }, [ab], OPTIONS)).toBe(256);
    // Transferred: detached here.
    expect(ab.byteLength).toBe(0);
    // The module is kept: a second task runs it again.
    expect(await offload<number>(SUM, { bytes: new Uint8Array([7]) }, [], OPTIONS)).toBe(7);
  });

  it('fails a task whose module does not default-export a function with offload_failed, naming the module', async () => {
    const err = await offload(WRONG, {}, [], OPTIONS).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OffloadError);
    expect((err as OffloadError).code).toBe(OffloadErrors.Failed);
    expect((err as OffloadError).message).toContain('not-a-function.ts does not default-export a function');
    // The pool still works.
    expect(await offload<number>(SUM, { bytes: new Uint8Array([1]) }, [], OPTIONS)).toBe(1);
  });

  it('fails a task past its deadline with offload_timeout, at the deadline, and the pool goes on', async () => {
    const started = performance.now();
    const err = await offload(SPIN, { ms: 3000 }, [], { timeoutMs: 150, maxQueue: 4 }).catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(OffloadError);
    expect((err as OffloadError).code).toBe(OffloadErrors.Timeout);
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(2000);
    // The timed-out task's thread was ended: its replacement starts (about 150 ms here, loading the task module
    // again) within a generous deadline.
    expect(await offload<number>(SUM, { bytes: new Uint8Array([4]) }, [], OPTIONS)).toBe(4);
    // A task within its deadline is not failed (its timer is cleared): the pool answers, and later too.
    expect(await offload<number>(SUM, { bytes: new Uint8Array([2]) }, [], { timeoutMs: 150, maxQueue: 4 })).toBe(2);
    await new Promise((r) => setTimeout(r, 200));
    expect(await offload<number>(SUM, { bytes: new Uint8Array([3]) }, [], OPTIONS)).toBe(3);
  });
});
