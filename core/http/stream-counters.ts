// An HTTP listener's counters (per generation, summed per worker, then over the workers for /stats).

export interface StreamCounters {
  streams: number;
  localReplies: number;
  upstreamFailures: number;
  filterFailures: number;
  filterFailuresByFilter: Record<string, number>;
  /** `native` engine: streams its native path served (also counted in `streams`). */
  nativeStreams: number;
  /** `native` engine: connections it handed to the net engine (see core/http/native-listener.ts). */
  nativeHandoffs: number;
  /** `native` engine: connections the net engine handed back to it between requests (net-connection.ts). */
  nativeHandbacks: number;
}

export function newStreamCounters(): StreamCounters {
  return {
    streams: 0,
    localReplies: 0,
    upstreamFailures: 0,
    filterFailures: 0,
    filterFailuresByFilter: {},
    nativeStreams: 0,
    nativeHandoffs: 0,
    nativeHandbacks: 0,
  };
}

/** Adds `c` into `total` (fields a worker of an older version did not send count as 0). */
export function addStreamCounters(total: StreamCounters, c: Partial<StreamCounters>): void {
  total.streams += c.streams ?? 0;
  total.localReplies += c.localReplies ?? 0;
  total.upstreamFailures += c.upstreamFailures ?? 0;
  total.filterFailures += c.filterFailures ?? 0;
  total.nativeStreams += c.nativeStreams ?? 0;
  total.nativeHandoffs += c.nativeHandoffs ?? 0;
  total.nativeHandbacks += c.nativeHandbacks ?? 0;
  for (const [name, n] of Object.entries(c.filterFailuresByFilter ?? {})) {
    total.filterFailuresByFilter[name] = (total.filterFailuresByFilter[name] ?? 0) + n;
  }
}

/** A filter threw or rejected: counted in all, and per filter (the log line is the engine's). */
export function countFilterFailure(counters: StreamCounters, filter: string): void {
  counters.filterFailures++;
  counters.filterFailuresByFilter[filter] = (counters.filterFailuresByFilter[filter] ?? 0) + 1;
}
