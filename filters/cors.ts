// The `cors` filter (Fetch standard, CORS protocol): preflight requests from allowed origins are answered here
// (204, never forwarded); other requests from allowed origins get the CORS response headers on their way back.
// A preflight from an origin not allowed gets 403 without CORS headers, which the browser reports as blocked.

import { defineFilter, reply, T } from './api.ts';

const Options = T.Object(
  {
    allowOrigins: T.Array(T.String({ minLength: 1 }), {
      minItems: 1,
      description: 'exact origins ("https://app.example.com"), patterns with * ("https://*.example.com"), or "*"',
    }),
    allowMethods: T.Array(T.String({ minLength: 1 }), { default: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] }),
    allowHeaders: T.Array(T.String({ minLength: 1 }), { default: [], description: 'request headers allowed; ["*"] allows what the preflight asks for' }),
    exposeHeaders: T.Array(T.String({ minLength: 1 }), { default: [] }),
    allowCredentials: T.Boolean({ default: false }),
    maxAgeSeconds: T.Integer({ minimum: 0, maximum: 86_400, default: 600 }),
  },
  { additionalProperties: false },
);

/** Per stream: the request's origin when it was allowed, for the response headers. */
interface State {
  origin: string;
}

export default defineFilter({
  name: 'cors',
  // onResponse edits fields and returns at once: the native engine may run it (api.ts synchronousResponse).
  synchronousResponse: true,
  config: Options,
  state: (): State => ({ origin: '' }),
  create(o) {
    if (o.allowCredentials && o.allowOrigins.includes('*'))
      throw new Error('allowCredentials cannot be used with allowOrigins "*" (the Fetch standard forbids it)');
    const exact = new Set(o.allowOrigins.filter((p) => !p.includes('*')));
    const patterns = o.allowOrigins.filter((p) => p.includes('*') && p !== '*').map(patternOf);
    const any = o.allowOrigins.includes('*');
    const allowed = (origin: string) => any || exact.has(origin) || patterns.some((p) => p.test(origin));
    const methods = o.allowMethods.join(', ');
    const echoHeaders = o.allowHeaders.includes('*');
    const headers = o.allowHeaders.join(', ');
    const expose = o.exposeHeaders.join(', ');
    const allowOriginValue = (origin: string) => (any && !o.allowCredentials ? '*' : origin);

    return {
      onRequest(req, _ctx, s) {
        const origin = req.headers.get('origin');
        if (origin === undefined) return;
        const preflight = req.method === 'OPTIONS' && req.headers.has('access-control-request-method');
        if (!allowed(origin)) return preflight ? reply(403, 'CORS origin not allowed\n') : undefined;
        if (!preflight) {
          s.origin = origin;
          return;
        }
        const out = ['access-control-allow-origin', allowOriginValue(origin), 'access-control-allow-methods', methods, 'vary', 'origin'];
        const asked = req.headers.get('access-control-request-headers');
        if (echoHeaders && asked !== undefined) out.push('access-control-allow-headers', asked);
        else if (headers !== '') out.push('access-control-allow-headers', headers);
        if (o.allowCredentials) out.push('access-control-allow-credentials', 'true');
        out.push('access-control-max-age', String(o.maxAgeSeconds));
        return reply(204, '', out);
      },
      onResponse(res, _ctx, s) {
        if (s.origin === '') return;
        res.headers.set('access-control-allow-origin', allowOriginValue(s.origin));
        res.headers.append('vary', 'origin');
        if (o.allowCredentials) res.headers.set('access-control-allow-credentials', 'true');
        if (expose !== '') res.headers.set('access-control-expose-headers', expose);
      },
    };
  },
});

/** "https://*.example.com" → one label or more where the star is; the rest matched literally. */
function patternOf(p: string): RegExp {
  const escaped = p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '[^/]+');
  return new RegExp(`^${escaped}$`);
}
