// The `fault` filter: injects a delay or an abort into a share of requests, or into the requests that ask for one
// by header when `headerControl` is on (the service-mesh way to test how callers cope). Delays hold the request
// without blocking anything else (a timer, then the request goes on).

import { defineFilter, type FilterReply, reply, T } from './api.ts';

const Options = T.Object(
  {
    delay: T.Optional(
      T.Object(
        { ms: T.Integer({ minimum: 1, maximum: 600_000 }), percent: T.Number({ minimum: 0, maximum: 100, default: 100 }) },
        { additionalProperties: false },
      ),
    ),
    abort: T.Optional(
      T.Object(
        {
          status: T.Integer({ minimum: 200, maximum: 599 }),
          percent: T.Number({ minimum: 0, maximum: 100, default: 100 }),
          body: T.String({ default: 'fault injected\n' }),
        },
        { additionalProperties: false },
      ),
    ),
    headerControl: T.Boolean({
      default: false,
      description: 'x-mantou-fault-delay-ms and x-mantou-fault-abort (a status) on a request ask for that fault',
    }),
  },
  { additionalProperties: false },
);

export default defineFilter({
  name: 'fault',
  config: Options,
  create(o) {
    const hit = (percent: number) => percent >= 100 || Math.random() * 100 < percent;
    return {
      onRequest(req) {
        let delayMs = o.delay !== undefined && hit(o.delay.percent) ? o.delay.ms : 0;
        let abort: FilterReply | undefined = o.abort !== undefined && hit(o.abort.percent) ? reply(o.abort.status, o.abort.body) : undefined;
        if (o.headerControl) {
          const d = Number(req.headers.get('x-mantou-fault-delay-ms') ?? '');
          if (Number.isInteger(d) && d > 0 && d <= 600_000) delayMs = d;
          const a = Number(req.headers.get('x-mantou-fault-abort') ?? '');
          if (Number.isInteger(a) && a >= 200 && a <= 599) abort = reply(a, 'fault injected\n');
        }
        if (delayMs === 0) return abort;
        return new Promise<FilterReply | undefined>((resolve) => setTimeout(resolve, delayMs, abort));
      },
    };
  },
});
