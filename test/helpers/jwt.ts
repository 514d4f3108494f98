// Keys and tokens for jwt-auth tests: an HS256 secret, an RSA and an EC P-256 key pair, a JWKS file of their
// public halves, and a signer (JWS compact serialization, RFC 7515).

import { createHmac, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';

export interface TestKeys {
  secret: Buffer;
  rsa: KeyObject;
  ec: KeyObject;
  jwks: { keys: object[] };
}

export function makeKeys(): TestKeys {
  const secret = randomBytes(32);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    secret,
    rsa: rsa.privateKey,
    ec: ec.privateKey,
    jwks: {
      keys: [
        { kty: 'oct', kid: 'hs', k: secret.toString('base64url') },
        { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'rs' },
        { ...ec.publicKey.export({ format: 'jwk' }), kid: 'es' },
      ],
    },
  };
}

export function writeJwks(file: string, keys: TestKeys): void {
  writeFileSync(file, JSON.stringify(keys.jwks));
}

const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');

export function signToken(keys: TestKeys, alg: 'HS256' | 'RS256' | 'ES256', claims: object, kid = { HS256: 'hs', RS256: 'rs', ES256: 'es' }[alg]): string {
  const input = `${b64({ alg, kid, typ: 'JWT' })}.${b64(claims)}`;
  let sig: Buffer;
  if (alg === 'HS256') sig = createHmac('sha256', keys.secret).update(input).digest();
  else if (alg === 'RS256') sig = sign('sha256', Buffer.from(input), keys.rsa);
  else sig = sign('sha256', Buffer.from(input), { key: keys.ec, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64(sig)}`;
}
