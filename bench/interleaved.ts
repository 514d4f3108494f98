// The interleaved rows of bench/offload.ts: one probe of small GETs while the upload load switches on and off in
// windows of a fraction of a second (bench/peers/upload-load.ts --window-ms), and the GETs due while it was on
// compared with those due while it was off. Rounds measured one after the other, seconds apart, compare two
// moments of this VM as much as two conditions (a round's p99 alone moved from 312 to 8,743 µs within one run,
// 2026-12-03 17:41); windows half a second long give both sides of the comparison the same moments, so a stall of
// the host lands on either side by chance alone.

/** A round's GETs split by what the upload load was doing when each came due. */
export interface InterleavedSplit {
  /** Latencies (µs) of the GETs due inside a loaded window. */
  loaded: number[];
  /** Latencies (µs) of the GETs due in a quiet window, with no upload in flight nor just ended. */
  quiet: number[];
  /** GETs left out: due in a quiet window while an upload begun in the loaded one still ran, or just after. */
  leftOut: number;
}

/**
 * `samples`: (due time in ms since the epoch, latency in µs) pairs, as open-loop.ts records them; `windows`:
 * (start, end) pairs of the loaded windows, `spans`: (start, end) pairs of the uploads, both as upload-load.ts
 * prints them (same clock, in order). A GET due in a loaded window is `loaded`. One due outside every loaded window
 * is `quiet` unless an upload was in flight then, or had ended less than `settleMs` before: the proxy's work for
 * an upload (its response, the pool's reply, freeing its buffers) belongs to the load, not to the quiet side.
 * `slackMs` widens the windows and spans for the two processes' clocks (slowed-by-load.ts).
 */
export function splitByWindows(
  samples: readonly number[],
  windows: readonly number[],
  spans: readonly number[],
  settleMs = 20,
  slackMs = 0.5,
): InterleavedSplit {
  const loaded: number[] = [];
  const quiet: number[] = [];
  let leftOut = 0;
  for (let i = 0; i < samples.length; i += 2) {
    const due = samples[i] as number;
    const us = samples[i + 1] as number;
    if (inside(due, windows, slackMs, 0)) loaded.push(us);
    else if (inside(due, spans, slackMs, settleMs)) leftOut++;
    else quiet.push(us);
  }
  return { loaded, quiet, leftOut };
}

/** Whether `t` falls in one of the (start, end) pairs, widened by `slack` on both sides and `after` past the end. */
function inside(t: number, pairs: readonly number[], slack: number, after: number): boolean {
  for (let j = 0; j < pairs.length; j += 2) if (t >= (pairs[j] as number) - slack && t <= (pairs[j + 1] as number) + slack + after) return true;
  return false;
}
