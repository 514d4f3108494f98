// The `body-limit` filter: 413 for request bodies over `maxBytes`, known up front (Content-Length) or counted as
// they stream (chunked). A streamed body that crosses the limit is cut there: the upstream request is abandoned.

import { defineFilter, reply, T } from './api.ts';

const Options = T.Object({ maxBytes: T.Integer({ minimum: 0 }) }, { additionalProperties: false });

export default defineFilter({
  name: 'body-limit',
  // onRequest decides on a Content-Length; onRequestBody only counts chunked bodies (api.ts chunkedBodiesOnly).
  chunkedBodiesOnly: true,
  config: Options,
  state: () => ({ seen: 0 }),
  create(o) {
    const tooLarge = () => reply(413, `request body over ${o.maxBytes} bytes\n`);
    return {
      onRequest(req) {
        if (req.contentLength > o.maxBytes) return tooLarge();
      },
      onRequestBody(chunk, _end, _ctx, s) {
        s.seen += chunk.length;
        if (s.seen > o.maxBytes) return tooLarge();
      },
    };
  },
});
