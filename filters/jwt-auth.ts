// The `jwt-auth` filter: a request must carry a JSON Web Token (`Authorization: Bearer …`, RFC 6750) signed with
// HS256, RS256 or ES256 by a key of the configured JWKS file (RFC 7517), not expired (`exp`), already valid
// (`nbf`), from an allowed issuer (`iss`) and for an allowed audience (`aud`), within a clock skew. Its claims go
// into `ctx.attributes` for later filters and the access log. Otherwise 401 with a `www-authenticate` challenge.
// The JWKS file is read when the config loads, so SIGHUP picks up rotated keys. Verified tokens are remembered
// until they expire (bounded), so a client reusing its token costs a map lookup, not a signature check.

import { createHmac, createPublicKey, createSecretKey, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineFilter, reply, T } from './api.ts';

const StringOrList = T.Union([T.String({ minLength: 1 }), T.Array(T.String({ minLength: 1 }), { minItems: 1 })]);

const Options = T.Object(
  {
    jwksFile: T.String({ minLength: 1, description: 'a JWKS JSON file ({ "keys": [...] }), relative to the config file' }),
    issuer: T.Optional(StringOrList),
    audience: T.Optional(StringOrList),
    clockSkewSeconds: T.Integer({ minimum: 0, maximum: 3600, default: 60 }),
    claimsAttribute: T.String({ minLength: 1, default: 'jwt.claims' }),
    forwardToken: T.Boolean({ default: true, description: 'keep the Authorization header for the upstream' }),
  },
  { additionalProperties: false },
);

type Alg = 'HS256' | 'RS256' | 'ES256';

interface VerificationKey {
  alg: Alg;
  key: KeyObject;
}

interface Jwk {
  kty?: string;
  kid?: string;
  alg?: string;
  crv?: string;
  k?: string;
}

/** Remembered verified tokens per filter instance; past this the memory starts again empty. */
const MAX_REMEMBERED = 10_000;

export default defineFilter({
  name: 'jwt-auth',
  config: Options,
  create(o, env) {
    const keys = loadJwks(resolve(env.configDir, o.jwksFile));
    const issuers = o.issuer === undefined ? null : new Set(typeof o.issuer === 'string' ? [o.issuer] : o.issuer);
    const audiences = o.audience === undefined ? null : new Set(typeof o.audience === 'string' ? [o.audience] : o.audience);
    const remembered = new Map<string, { claims: Record<string, unknown>; expiresAt: number }>();
    const deny = (description: string) =>
      reply(401, `${description}\n`, ['www-authenticate', `Bearer error="invalid_token", error_description="${description}"`]);

    return {
      onRequest(req, ctx) {
        const auth = req.headers.get('authorization');
        if (auth === undefined || !/^bearer /i.test(auth)) return reply(401, 'a bearer token is required\n', ['www-authenticate', 'Bearer']);
        const token = auth.slice(7).trim();
        const nowS = Date.now() / 1000;
        let known = remembered.get(token);
        if (known !== undefined && known.expiresAt <= nowS) {
          remembered.delete(token);
          known = undefined;
        }
        if (known === undefined) {
          const checked = verifyToken(token, keys, nowS, o.clockSkewSeconds, issuers, audiences);
          if (typeof checked === 'string') return deny(checked);
          const exp = typeof checked.exp === 'number' ? checked.exp + o.clockSkewSeconds : Number.POSITIVE_INFINITY;
          known = { claims: checked, expiresAt: exp };
          if (remembered.size >= MAX_REMEMBERED) remembered.clear();
          remembered.set(token, known);
        }
        ctx.attributes.set(o.claimsAttribute, known.claims);
        if (!o.forwardToken) req.headers.remove('authorization');
      },
    };
  },
});

/** Reads the key set; throws (refusing the config) on a file or key that cannot be used. */
function loadJwks(file: string): Map<string, VerificationKey> {
  let parsed: { keys?: Jwk[] };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as { keys?: Jwk[] };
  } catch (err) {
    throw new Error(`cannot read JWKS file ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`JWKS file ${file} has no "keys"`);
  const out = new Map<string, VerificationKey>();
  for (const [i, jwk] of parsed.keys.entries()) {
    const kid = jwk.kid ?? `#${i}`;
    if (jwk.kty === 'oct' && typeof jwk.k === 'string') out.set(kid, { alg: 'HS256', key: createSecretKey(Buffer.from(jwk.k, 'base64url')) });
    else if (jwk.kty === 'RSA') out.set(kid, { alg: 'RS256', key: createPublicKey({ key: jwk as never, format: 'jwk' }) });
    else if (jwk.kty === 'EC' && jwk.crv === 'P-256') out.set(kid, { alg: 'ES256', key: createPublicKey({ key: jwk as never, format: 'jwk' }) });
    else throw new Error(`JWKS key ${kid}: only oct (HS256), RSA (RS256) and EC P-256 (ES256) keys are supported`);
  }
  return out;
}

/** The token's claims, or why it is refused. */
export function verifyToken(
  token: string,
  keys: Map<string, VerificationKey>,
  nowS: number,
  skewS: number,
  issuers: Set<string> | null,
  audiences: Set<string> | null,
): Record<string, unknown> | string {
  const parts = token.split('.');
  if (parts.length !== 3) return 'malformed token';
  const [h = '', p = '', s = ''] = parts;
  let header: { alg?: string; kid?: string };
  let claims: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: string; kid?: string };
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return 'malformed token';
  }
  if (typeof claims !== 'object' || claims === null) return 'malformed token';
  const key = header.kid !== undefined ? keys.get(header.kid) : keys.size === 1 ? keys.values().next().value : undefined;
  if (key === undefined) return 'unknown signing key';
  // The key decides the algorithm: a token cannot pick a weaker one (or "none").
  if (header.alg !== key.alg) return 'unexpected algorithm';
  if (!signatureValid(key, `${h}.${p}`, Buffer.from(s, 'base64url'))) return 'invalid signature';
  if (typeof claims.exp === 'number' && nowS > claims.exp + skewS) return 'token expired';
  if (typeof claims.nbf === 'number' && nowS < claims.nbf - skewS) return 'token not yet valid';
  if (issuers !== null && (typeof claims.iss !== 'string' || !issuers.has(claims.iss))) return 'issuer not allowed';
  if (audiences !== null) {
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!aud.some((a) => typeof a === 'string' && audiences.has(a))) return 'audience not allowed';
  }
  return claims;
}

function signatureValid(key: VerificationKey, signingInput: string, signature: Buffer): boolean {
  if (key.alg === 'HS256') {
    const expected = createHmac('sha256', key.key).update(signingInput).digest();
    return expected.length === signature.length && timingSafeEqual(expected, signature);
  }
  if (key.alg === 'RS256') return verify('sha256', Buffer.from(signingInput), key.key, signature);
  // JWS ES256 signatures are r||s (IEEE P1363), not DER.
  return verify('sha256', Buffer.from(signingInput), { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
}
