// bench/slowed-by-load.ts: the count bench:offload reports beside its p99s — slow requests that came due during an
// upload, beyond chance — on rounds whose answer is known.

import { describe, expect, it } from 'vitest';
import { slowedByLoad } from '../../../bench/slowed-by-load.ts';

/** A round of `n` requests due 1 ms apart from t=0, latency 100 µs except those `slow` says (due time → µs). */
function round(n: number, slow: Record<number, number> = {}): number[] {
  const samples: number[] = [];
  for (let t = 0; t < n; t++) samples.push(t, slow[t] ?? 100);
  return samples;
}

describe('slowedByLoad', () => {
  it('counts slow requests inside the uploads, less what chance would put there, per 1,000', () => {
    // 1,000 requests over 999 ms; two uploads cover 100 ms (10%); all ten slow requests came due inside them.
    const slowAt = [10, 20, 30, 40, 500, 505, 510, 515, 520, 525];
    const samples = round(1000, Object.fromEntries(slowAt.map((t) => [t, 900])));
    const spans = [5, 55, 495, 545];
    const r = slowedByLoad(samples, spans, 500, 0);
    expect(r.requests).toBe(1000);
    expect(r.slow).toBe(10);
    expect(r.inside).toBe(10);
    expect(r.covered).toBeCloseTo(100 / 999, 6);
    // 10 inside, 10 × 0.1 by chance: 9 beyond, per 1,000 requests.
    expect(r.perThousand).toBeCloseTo(10 - (10 * 100) / 999, 6);
  });

  it('gives nothing to uploads when the slow requests fall outside them (the VM stalled elsewhere)', () => {
    const samples = round(1000, { 300: 5000, 301: 5000, 302: 5000, 303: 5000 });
    const r = slowedByLoad(samples, [5, 55, 495, 545], 500, 0);
    expect(r.slow).toBe(4);
    expect(r.inside).toBe(0);
    expect(r.perThousand).toBe(0);
  });

  it("widens each upload by the clocks' slack, and clips uploads to the round", () => {
    const samples = round(100, { 60: 900 });
    // The upload ended at 59.6 ms by its own clock: with 0.5 ms of slack the request due at 60 ms is inside.
    expect(slowedByLoad(samples, [40, 59.6], 500, 0.5).inside).toBe(1);
    expect(slowedByLoad(samples, [40, 59.6], 500, 0).inside).toBe(0);
    // An upload that began before the round and ended after it covers the whole round, not more.
    expect(slowedByLoad(samples, [-50, 500], 500, 0).covered).toBe(1);
  });

  it('answers zeros for an empty round', () => {
    expect(slowedByLoad([], [0, 10], 500)).toEqual({ requests: 0, slow: 0, inside: 0, covered: 0, perThousand: 0 });
  });
});
