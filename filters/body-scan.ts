// The `body-scan` filter, the offload example: the whole request body (up to `maxBytes`, 413 above) is matched
// against regular expressions in the worker's offload pool, so a megabyte of regex work never stalls the other
// requests of the worker. The body reaches the pool thread without a copy (shared memory from the body buffer
// pool). A match is answered 403; a saturated pool (bounded queue) or a scan over `timeoutMs` is answered 503.

import { type OffloadError, OffloadErrors, offloadable } from '../core/offload/offload-pool.ts';
import { defineFilter, type FilterReply, reply, T } from './api.ts';
import type { BodyScanInput } from './body-scan-task.ts';
import { firstMatchLatin1 } from './latin1-scan.ts';

const TASK = new URL('./body-scan-task.ts', import.meta.url).href;

const Options = T.Object(
  {
    patterns: T.Array(T.String({ minLength: 1 }), { minItems: 1, description: 'regular expressions; any match refuses the request' }),
    flags: T.String({ default: 'i', pattern: '^[imsu]*$', description: 'RegExp flags for every pattern' }),
    maxBytes: T.Integer({ minimum: 1, maximum: 64 * 1024 * 1024, default: 1024 * 1024 }),
    timeoutMs: T.Integer({ minimum: 1, maximum: 60_000, default: 1000 }),
    maxQueue: T.Integer({ minimum: 0, maximum: 10_000, default: 32, description: 'scans waiting for a pool thread; past it, 503' }),
    offload: T.Boolean({ default: true, description: 'false scans on the worker’s own event loop (small bodies, or to compare)' }),
  },
  { additionalProperties: false },
);

export default defineFilter({
  name: 'body-scan',
  config: Options,
  // onRequest buffers every body: the native engine can gather it and keep the connection (api.ts).
  wholeRequestBody: true,
  create(o) {
    // Compiled here too, so a pattern that does not compile refuses the config instead of failing requests.
    const regexes = o.patterns.map((p) => new RegExp(p, o.flags));
    const refused = reply(403, 'request body refused\n');
    const options = { timeoutMs: o.timeoutMs, maxQueue: o.maxQueue };
    return {
      onRequest(req, ctx) {
        if (req.hasBody) ctx.bufferRequestBody(o.maxBytes);
      },
      onRequestBody(chunk, end, ctx) {
        // Buffered: one call with the whole body.
        if (!end || chunk.length === 0) return;
        if (!o.offload) return firstMatchLatin1(regexes, chunk) >= 0 ? refused : undefined;
        // Pooled bodies are shared memory: the pool thread reads them in place. Others move there and are gone here,
        // so they are forwarded from a copy (rare: bodies under 64 KiB or without a Content-Length).
        const { data, transfer } = offloadable(chunk);
        const forward = transfer.length === 0 ? undefined : Buffer.from(chunk);
        const input: BodyScanInput = { body: data, patterns: o.patterns, flags: o.flags };
        return ctx.offload<number>(TASK, input, transfer, options).then(
          (match): Buffer | FilterReply | undefined => (match >= 0 ? refused : forward),
          (err: OffloadError): FilterReply =>
            reply(
              503,
              err.code === OffloadErrors.Timeout
                ? 'request body scan timed out\n'
                : err.code === OffloadErrors.Saturated
                  ? 'request body scanner busy\n'
                  : 'request body scan failed\n',
            ),
        );
      },
    };
  },
});
