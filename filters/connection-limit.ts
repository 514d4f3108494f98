// `connection-limit`: at most `maxSessions` sessions at once and `maxSessionsPerSecond` new ones per wall-clock
// second on this listener — counted across every worker, not per worker (core/tcp/shared-session-counts.ts).
// Over a limit the new connection is reset at once, before anything is read or any upstream connected (close
// reasons `connection_limit` and `connection_rate_limit`); sessions already running are never touched.
// The per-second limit is a fixed window: a burst straddling two seconds may pass up to twice the rate.

import { closeSession, defineConnectionFilter, T } from './api.ts';

const Options = T.Object(
  {
    maxSessions: T.Optional(T.Integer({ minimum: 1, maximum: 10_000_000, description: 'concurrent sessions on this listener (all workers)' })),
    maxSessionsPerSecond: T.Optional(T.Integer({ minimum: 1, maximum: 10_000_000, description: 'new sessions per second on this listener (all workers)' })),
  },
  { additionalProperties: false },
);

const OVER_LIMIT = closeSession('connection_limit');
const OVER_RATE = closeSession('connection_rate_limit');

export default defineConnectionFilter({
  name: 'connection-limit',
  config: Options,
  create(o) {
    if (o.maxSessions === undefined && o.maxSessionsPerSecond === undefined) throw new Error('set maxSessions, maxSessionsPerSecond or both');
    const maxSessions = o.maxSessions ?? Number.POSITIVE_INFINITY;
    const maxPerSecond = o.maxSessionsPerSecond ?? Number.POSITIVE_INFINITY;
    return {
      onConnect(session) {
        // Each session counted itself in when accepted: the ordinals are exact across workers.
        if (session.listenerActiveSessions > maxSessions) return OVER_LIMIT;
        if (session.listenerSessionsThisSecond > maxPerSecond) return OVER_RATE;
      },
    };
  },
});
