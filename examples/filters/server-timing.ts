// Example custom filter: reports in a `server-timing` response header how long the upstream took (from the
// request leaving the proxy to the response head arriving) and the whole time in the proxy so far, so browser
// developer tools and clients can see where the time went.
//
//   filters:
//     - name: server-timing
//       module: ./filters/server-timing.ts

import { defineFilter, T } from 'mantou';

export default defineFilter({
  name: 'server-timing',
  config: T.Object({ upstreamMetric: T.String({ default: 'upstream' }), totalMetric: T.String({ default: 'proxy' }) }, { additionalProperties: false }),
  // Per stream: when the request went upstream (after load balancing).
  state: () => ({ sentAt: 0 }),
  // onResponse edits the head and returns at once: the native engine may run this filter (api.ts synchronousResponse).
  synchronousResponse: true,
  create(options) {
    return {
      onUpstreamRequest(_req, _ctx, s) {
        s.sentAt = performance.now();
      },
      onResponse(res, ctx, s) {
        const now = performance.now();
        const parts = [`${options.totalMetric};dur=${(now - ctx.startMs).toFixed(2)}`];
        if (s.sentAt > 0) parts.unshift(`${options.upstreamMetric};dur=${(now - s.sentAt).toFixed(2)}`);
        res.headers.append('server-timing', parts.join(', '));
      },
    };
  },
});
