// Example custom filter: a log line for each request that took longer than a threshold or did not end well (a
// failure, a response cut short, a client that left), with what the other filters learned about it (the API key's
// client, from `ctx.attributes`). It reads the outcome in onDone, which runs once however the request ended, and
// costs nothing on the requests it does not log.
//
//   filters:
//     - name: slow-requests
//       module: ./filters/slow-requests.ts
//       config: { thresholdMs: 250 }

import { defineFilter, T } from 'mantou';

export default defineFilter({
  name: 'slow-requests',
  config: T.Object(
    {
      thresholdMs: T.Number({ minimum: 0, default: 500, description: 'log requests that took this long or longer' }),
      failures: T.Boolean({ default: true, description: 'also log requests that failed or were cut short, however fast' }),
    },
    { additionalProperties: false },
  ),
  // Per request: what onDone reports besides the outcome (the head is gone by then).
  state: () => ({ method: '', path: '' }),
  create(options, { log }) {
    return {
      onRequest(req, _ctx, s) {
        s.method = req.method;
        s.path = req.path;
      },
      onDone(outcome, ctx, s) {
        const failed = !outcome.completed || outcome.failureCode !== '';
        if (outcome.durationMs < options.thresholdMs && !(options.failures && failed)) return;
        if (!log.isLevelEnabled('warn')) return;
        log.warn(
          {
            requestId: ctx.requestId,
            method: s.method,
            path: s.path,
            route: ctx.routeName,
            status: outcome.status,
            failureCode: outcome.failureCode || undefined,
            answeredBy: outcome.localReplyComponent || undefined,
            completed: outcome.completed,
            durationMs: Math.round(outcome.durationMs * 100) / 100,
            client: ctx.attributes.get('api-key.client'),
          },
          failed ? 'request failed' : 'slow request',
        );
      },
    };
  },
});
