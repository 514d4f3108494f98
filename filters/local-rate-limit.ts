// The `local-rate-limit` filter: a token bucket per key (the route, the client address, or a header's value),
// refilled lazily from the clock when a request comes (no timers). Limits are per worker: with N workers the
// proxy as a whole admits up to N times the rate. Over the limit: 429 with retry-after and RateLimit headers.

import { defineFilter, reply, T } from './api.ts';
import { clientAddress } from './ip-access.ts';

const Options = T.Object(
  {
    tokensPerFill: T.Integer({ minimum: 1, description: 'tokens added every fillIntervalMs' }),
    fillIntervalMs: T.Integer({ minimum: 1, maximum: 86_400_000 }),
    maxTokens: T.Integer({ minimum: 1, description: 'bucket size: the largest burst' }),
    key: T.Union([T.Literal('route'), T.Literal('client'), T.Object({ header: T.String({ minLength: 1 }) }, { additionalProperties: false })], {
      default: 'route',
    }),
    trustedHops: T.Integer({ minimum: 0, maximum: 10, default: 0, description: 'with key "client": as in ip-access' }),
    maxKeys: T.Integer({ minimum: 1, default: 100_000, description: 'buckets kept; the least recently created go first' }),
  },
  { additionalProperties: false },
);

interface Bucket {
  tokens: number;
  /** When the last whole fill interval was counted (ms). */
  filledAt: number;
}

export default defineFilter({
  name: 'local-rate-limit',
  config: Options,
  create(o) {
    const buckets = new Map<string, Bucket>();
    const header = typeof o.key === 'object' ? o.key.header.toLowerCase() : '';
    return {
      onRequest(req, ctx) {
        const key =
          o.key === 'route'
            ? ctx.routeName
            : o.key === 'client'
              ? clientAddress(ctx.remoteAddress, req.headers.get('x-forwarded-for'), o.trustedHops)
              : (req.headers.get(header) ?? '');
        const now = Date.now();
        let b = buckets.get(key);
        if (b === undefined) {
          if (buckets.size >= o.maxKeys) buckets.delete(buckets.keys().next().value as string);
          b = { tokens: o.maxTokens, filledAt: now };
          buckets.set(key, b);
        } else {
          const fills = Math.floor((now - b.filledAt) / o.fillIntervalMs);
          if (fills > 0) {
            b.tokens = Math.min(o.maxTokens, b.tokens + fills * o.tokensPerFill);
            b.filledAt += fills * o.fillIntervalMs;
          }
        }
        if (b.tokens > 0) {
          b.tokens--;
          return;
        }
        const resetSeconds = Math.max(1, Math.ceil((b.filledAt + o.fillIntervalMs - now) / 1000));
        return reply(429, 'rate limit exceeded\n', [
          'retry-after',
          String(resetSeconds),
          'ratelimit-limit',
          String(o.maxTokens),
          'ratelimit-remaining',
          '0',
          'ratelimit-reset',
          String(resetSeconds),
        ]);
      },
    };
  },
});
