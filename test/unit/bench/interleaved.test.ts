// bench/interleaved.ts: how bench:offload's interleaved rows split one probe's GETs into those due while the uploads
// were on and those due while they were off, on rounds whose answer is known.

import { describe, expect, it } from 'vitest';
import { splitByWindows } from '../../../bench/interleaved.ts';

/** GETs due 1 ms apart from t=0 to t=n-1, each's latency in µs its due time plus 1,000 (to tell them apart). */
function probe(n: number): number[] {
  const samples: number[] = [];
  for (let t = 0; t < n; t++) samples.push(t, 1000 + t);
  return samples;
}

describe('splitByWindows', () => {
  it('puts the GETs due inside a loaded window on the loaded side and the rest on the quiet side', () => {
    // Loaded 0-99 and 200-299 ms; the uploads all ended well inside their windows.
    const split = splitByWindows(probe(400), [0, 99, 200, 299], [10, 30, 210, 230], 20, 0);
    expect(split.loaded).toHaveLength(200);
    expect(split.quiet).toHaveLength(200);
    expect(split.leftOut).toBe(0);
    expect(split.loaded).toContain(1050);
    expect(split.loaded).not.toContain(1150);
    expect(split.quiet).toContain(1150);
    expect(split.quiet).toContain(1399);
  });

  it('leaves out the quiet GETs due while an upload begun in a loaded window ran on, and just after it ended', () => {
    // An upload began at 90 ms and ended at 130 ms, past its window (0-99 ms): GETs due 100-150 ms (130 + 20 ms of
    // settling) are neither side.
    const split = splitByWindows(probe(200), [0, 99], [90, 130], 20, 0);
    expect(split.loaded).toHaveLength(100);
    expect(split.leftOut).toBe(51);
    expect(split.quiet).toHaveLength(49);
    expect(Math.min(...split.quiet)).toBe(1151);
  });

  it('widens windows and uploads by the clocks slack', () => {
    const split = splitByWindows(probe(20), [5, 9], [], 0, 1);
    // 4 to 10 ms inclusive: 7 GETs.
    expect(split.loaded).toHaveLength(7);
    expect(split.quiet).toHaveLength(13);
  });
});
