// One TCP listener's counters in one worker. They belong to the listener (kept across reloads while it stays),
// are reported to the supervisor once a second and summed there (admin /stats).

export interface TcpCounters {
  sessions: number;
  activeSessions: number;
  bytesFromClient: number;
  bytesFromUpstream: number;
  /** Upstream connection attempts that failed (refused, unreachable, timed out), retried or not. */
  connectFailures: number;
  /** Sessions closed because no upstream could be reached. */
  sessionsUnreachable: number;
  /** Finished sessions by why they ended. */
  closeReasons: Record<string, number>;
  /** Throws and rejections per filter name. */
  filterFailures: Record<string, number>;
}

export function newTcpCounters(): TcpCounters {
  return {
    sessions: 0,
    activeSessions: 0,
    bytesFromClient: 0,
    bytesFromUpstream: 0,
    connectFailures: 0,
    sessionsUnreachable: 0,
    closeReasons: {},
    filterFailures: {},
  };
}

/** Adds `b` into `a` (the supervisor's sum over workers). */
export function addTcpCounters(a: TcpCounters, b: TcpCounters): void {
  a.sessions += b.sessions;
  a.activeSessions += b.activeSessions;
  a.bytesFromClient += b.bytesFromClient;
  a.bytesFromUpstream += b.bytesFromUpstream;
  a.connectFailures += b.connectFailures;
  a.sessionsUnreachable += b.sessionsUnreachable;
  for (const [k, n] of Object.entries(b.closeReasons)) a.closeReasons[k] = (a.closeReasons[k] ?? 0) + n;
  for (const [k, n] of Object.entries(b.filterFailures)) a.filterFailures[k] = (a.filterFailures[k] ?? 0) + n;
}
