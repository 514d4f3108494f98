// How many of a probe round's requests a background load slowed (bench/offload.ts), told apart from the VM's own
// stalls. On this 2-core VM a 3-second round's p99 is set as often by when the host stalled the guest as by the
// load under test: in the rounds traced on 2026-12-01, most GETs slower than the quiet p99 came due while no upload
// was in flight (docs/offload-measurements.md). Counting only the slow requests that came due during an upload,
// minus the number chance would put there, leaves what the uploads did.

/** A round's requests against its uploads. */
export interface SlowedByLoad {
  /** Requests in the round. */
  requests: number;
  /** Requests slower than the threshold. */
  slow: number;
  /** Slow requests that came due while an upload was in flight. */
  inside: number;
  /** The share of the round the uploads covered (0-1). */
  covered: number;
  /** Slow requests inside, beyond chance (slow × covered), per 1,000 requests of the round; 0 or more. */
  perThousand: number;
}

/**
 * `samples`: (due time in ms since the epoch, latency in µs) pairs, as open-loop.ts's `samples` records them;
 * `spans`: (start, end) pairs in the same clock, as bench/peers/upload-load.ts prints them, in order and not
 * overlapping (one upload at a time); `thresholdUs`: what counts as slow (the round's p99 without the load).
 * `slackMs` widens each span on both sides: the two processes' clocks are the same system clock read through each
 * process's `performance.timeOrigin`, which may differ by a fraction of a millisecond.
 */
export function slowedByLoad(samples: readonly number[], spans: readonly number[], thresholdUs: number, slackMs = 0.5): SlowedByLoad {
  const requests = samples.length / 2;
  if (requests === 0) return { requests: 0, slow: 0, inside: 0, covered: 0, perThousand: 0 };
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < samples.length; i += 2) {
    const due = samples[i] as number;
    if (due < first) first = due;
    if (due > last) last = due;
  }
  let coveredMs = 0;
  for (let j = 0; j < spans.length; j += 2) {
    const from = Math.max(first, (spans[j] as number) - slackMs);
    const to = Math.min(last, (spans[j + 1] as number) + slackMs);
    if (to > from) coveredMs += to - from;
  }
  const covered = last > first ? Math.min(1, coveredMs / (last - first)) : 0;
  let slow = 0;
  let inside = 0;
  for (let i = 0; i < samples.length; i += 2) {
    if ((samples[i + 1] as number) <= thresholdUs) continue;
    slow++;
    const due = samples[i] as number;
    for (let j = 0; j < spans.length; j += 2) {
      if (due >= (spans[j] as number) - slackMs && due <= (spans[j + 1] as number) + slackMs) {
        inside++;
        break;
      }
    }
  }
  const beyondChance = Math.max(0, inside - slow * covered);
  return { requests, slow, inside, covered, perThousand: (beyondChance * 1000) / requests };
}
