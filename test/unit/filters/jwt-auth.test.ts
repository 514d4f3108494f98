import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsWithDefaults } from '../../../config/filter-resolution.ts';
import { loadConfigFile } from '../../../config/load-config.ts';
import { HeaderList } from '../../../core/http/header-list.ts';
import { RequestHead } from '../../../core/http/request-head.ts';
import type { StreamContext } from '../../../core/http/stream-context.ts';
import { componentLogger } from '../../../core/logger.ts';
import type { FilterReply } from '../../../filters/api.ts';
import jwtAuth from '../../../filters/jwt-auth.ts';
import { contextStub } from '../../helpers/filter-context.ts';
import { makeKeys, signToken, writeJwks } from '../../helpers/jwt.ts';

const dir = mkdtempSync(join(tmpdir(), 'mantou-jwt-'));
const keys = makeKeys();
writeJwks(join(dir, 'jwks.json'), keys);
const log = componentLogger('test').child({}, { level: 'silent' });
const hooks = jwtAuth.create(optionsWithDefaults(jwtAuth as never, { jwksFile: 'jwks.json', issuer: 'https://idp.test', audience: ['api'] }) as never, {
  log,
  configDir: dir,
});
const now = Math.floor(Date.now() / 1000);
const good = { iss: 'https://idp.test', aud: 'api', sub: 'u1', exp: now + 300 };

function run(authorization?: string): { reply: FilterReply | undefined; ctx: StreamContext } {
  const ctx = contextStub();
  const req = new RequestHead('GET', '/', '', new HeaderList(authorization === undefined ? [] : ['authorization', authorization]), -1, false);
  return { reply: hooks.onRequest?.(req, ctx, undefined) as FilterReply | undefined, ctx };
}

const challenge = (r: FilterReply | undefined) => r?.headers?.[1];

describe('jwt-auth', () => {
  for (const alg of ['HS256', 'RS256', 'ES256'] as const) {
    it(`accepts a valid ${alg} token and puts its claims in ctx.attributes`, () => {
      const { reply, ctx } = run(`Bearer ${signToken(keys, alg, good)}`);
      expect(reply).toBeUndefined();
      expect(ctx.attributes.get('jwt.claims')).toMatchObject({ sub: 'u1' });
    });
  }

  const refused: [string, string | undefined, RegExp][] = [
    ['no token', undefined, /^Bearer$/],
    ['an expired token', `Bearer ${signToken(keys, 'RS256', { ...good, exp: now - 120 })}`, /token expired/],
    ['a token not yet valid', `Bearer ${signToken(keys, 'RS256', { ...good, nbf: now + 600 })}`, /token not yet valid/],
    ['another issuer', `Bearer ${signToken(keys, 'RS256', { ...good, iss: 'https://evil.test' })}`, /issuer not allowed/],
    ['another audience', `Bearer ${signToken(keys, 'RS256', { ...good, aud: ['other'] })}`, /audience not allowed/],
    [
      'a tampered payload',
      `Bearer ${signToken(keys, 'RS256', good).replace(/\.[^.]+\./, `.${Buffer.from(JSON.stringify({ ...good, sub: 'admin' })).toString('base64url')}.`)}`,
      /invalid signature/,
    ],
    ['an algorithm the key does not have (HS256 on the RSA key)', `Bearer ${signToken(keys, 'HS256', good, 'rs')}`, /unexpected algorithm/],
    ['an unknown key id', `Bearer ${signToken(keys, 'RS256', good, 'nope')}`, /unknown signing key/],
    ['garbage', 'Bearer abc.def', /malformed token/],
  ];
  for (const [name, auth, expected] of refused) {
    it(`answers 401 with a challenge to ${name}`, () => {
      const { reply } = run(auth);
      expect(reply?.status).toBe(401);
      expect(challenge(reply)).toMatch(expected);
    });
  }

  it('refuses a config whose JWKS file is missing, with the filter’s path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'listeners:\n  - name: edge\n    port: 8080\n    filters: [{ name: jwt-auth, config: { jwksFile: missing.json } }]\n    routes: [{ directResponse: { status: 200 } }]\n',
    );
    await expect(loadConfigFile(file, {})).rejects.toThrow(/filters\[0\]\.config: rejected by filter "jwt-auth": cannot read JWKS file .*missing\.json/);
  });
});
