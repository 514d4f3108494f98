// One TCP listener's counters in one worker. They belong to the listener (kept across reloads while it stays),
// are reported to the supervisor when it asks (on each admin /stats read) and summed there.

export interface TcpCounters {
  sessions: number;
  activeSessions: number;
  bytesFromClient: number;
  bytesFromUpstream: number;
  /** Upstream connection attempts that failed (refused, unreachable, timed out), retried or not. */
  connectFailures: number;
  /** Sessions closed because no upstream could be reached. */
  sessionsUnreachable: number;
  /** Seconds all finished sessions lasted, summed (with `sessions`, the mean duration). */
  sessionSeconds: number;
  /** Per upstream endpoint ("address:port"): sessions connected to it and connect attempts to it that failed. */
  endpoints: Record<string, { sessions: number; connectFailures: number }>;
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
    sessionSeconds: 0,
    endpoints: {},
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
  a.sessionSeconds += b.sessionSeconds;
  for (const [k, e] of Object.entries(b.endpoints)) {
    const into = (a.endpoints[k] ??= { sessions: 0, connectFailures: 0 });
    into.sessions += e.sessions;
    into.connectFailures += e.connectFailures;
  }
  for (const [k, n] of Object.entries(b.closeReasons)) a.closeReasons[k] = (a.closeReasons[k] ?? 0) + n;
  for (const [k, n] of Object.entries(b.filterFailures)) a.filterFailures[k] = (a.filterFailures[k] ?? 0) + n;
}

/** The endpoint's counters in `c`, made on first use. */
export function endpointCounters(c: TcpCounters, endpoint: string): { sessions: number; connectFailures: number } {
  let e = c.endpoints[endpoint];
  if (e === undefined) {
    e = { sessions: 0, connectFailures: 0 };
    c.endpoints[endpoint] = e;
  }
  return e;
}
