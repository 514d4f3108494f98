// Example custom filter: API keys. A request must carry one of the configured keys in a header (default
// `x-api-key`), or it is answered 401 here and never reaches the service. The key's client name is put in
// `ctx.attributes` for later filters and the access log, and the key itself is not passed upstream.
//
//   filters:
//     - name: api-key
//       module: ./filters/api-key.ts
//       config: { keys: { billing: "${BILLING_KEY}", reports: "${REPORTS_KEY}" } }

import { timingSafeEqual } from 'node:crypto';
import { defineFilter, reply, T } from 'mantou';

export default defineFilter({
  name: 'api-key',
  config: T.Object(
    {
      header: T.String({ minLength: 1, default: 'x-api-key' }),
      keys: T.Record(T.String({ minLength: 1 }), T.String({ minLength: 16 }), { description: 'client name → key (16 characters or more)' }),
    },
    { additionalProperties: false },
  ),
  create(options) {
    const header = options.header.toLowerCase();
    const keys = Object.entries(options.keys).map(([client, key]) => ({ client, key: Buffer.from(key) }));
    if (keys.length === 0) throw new Error('at least one key is needed');
    return {
      onRequest(req, ctx) {
        const given = req.headers.get(header);
        const client = given === undefined ? undefined : clientOf(Buffer.from(given), keys);
        if (client === undefined) return reply(401, 'a valid API key is required\n', ['www-authenticate', `ApiKey header="${header}"`]);
        req.headers.remove(header);
        ctx.attributes.set('api-key.client', client);
      },
    };
  },
});

/** Compares in constant time, so response timing does not leak how much of a key was right. */
function clientOf(given: Buffer, keys: { client: string; key: Buffer }[]): string | undefined {
  let found: string | undefined;
  for (const k of keys) if (k.key.length === given.length && timingSafeEqual(k.key, given)) found = k.client;
  return found;
}
