// Built-in filters' phase behaviour, hook by hook, and their options refused with their path at config load.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsWithDefaults } from '../../../config/filter-resolution.ts';
import { loadConfigFile } from '../../../config/load-config.ts';
import { ConfigError } from '../../../core/errors.ts';
import { HeaderList } from '../../../core/http/header-list.ts';
import { RequestHead } from '../../../core/http/request-head.ts';
import { ResponseHead } from '../../../core/http/response-head.ts';
import { componentLogger } from '../../../core/logger.ts';
import type { FilterDefinition, FilterReply, HttpFilterHooks } from '../../../filters/api.ts';
import { builtinFilters } from '../../../filters/registry.ts';
import { contextStub } from '../../helpers/filter-context.ts';

const log = componentLogger('test').child({}, { level: 'silent' });

function hooksOf(name: string, options: unknown): { hooks: HttpFilterHooks<unknown>; state: () => unknown } {
  const def = builtinFilters.get(name) as FilterDefinition;
  const hooks = def.create(optionsWithDefaults(def, options) as never, { log, configDir: '/' }) as HttpFilterHooks<unknown>;
  return { hooks, state: def.state ?? (() => undefined) };
}

const ctxOf = contextStub;

function req(method: string, headers: string[] = [], contentLength = -1): RequestHead {
  return new RequestHead(method, '/p', '', new HeaderList([...headers]), contentLength, false);
}

const status = (r: unknown) => (r as FilterReply | undefined)?.status;

describe('cors', () => {
  const { hooks, state } = hooksOf('cors', {
    allowOrigins: ['https://app.example.com', 'https://*.example.org'],
    allowHeaders: ['x-a'],
    allowCredentials: true,
  });
  it('answers a preflight from an allowed origin itself, with the allowed methods and headers', () => {
    const r = hooks.onRequest?.(req('OPTIONS', ['origin', 'https://app.example.com', 'access-control-request-method', 'PUT']), ctxOf(), state()) as FilterReply;
    expect(r.status).toBe(204);
    expect(r.headers).toEqual(
      expect.arrayContaining([
        'access-control-allow-origin',
        'https://app.example.com',
        'access-control-allow-credentials',
        'true',
        'access-control-allow-headers',
        'x-a',
      ]),
    );
  });
  it('refuses a preflight from another origin, and adds response headers for allowed simple requests', () => {
    expect(status(hooks.onRequest?.(req('OPTIONS', ['origin', 'https://evil.test', 'access-control-request-method', 'GET']), ctxOf(), state()))).toBe(403);
    const s = state();
    expect(hooks.onRequest?.(req('GET', ['origin', 'https://a.example.org']), ctxOf(), s)).toBeUndefined();
    const res = new ResponseHead(200, 'OK', new HeaderList(), 0, false);
    hooks.onResponse?.(res, ctxOf(), s);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://a.example.org');
    expect(res.headers.get('vary')).toBe('origin');
  });
});

describe('local-rate-limit', () => {
  it('admits a burst of maxTokens, then answers 429 with retry-after and RateLimit headers, per key', () => {
    const { hooks } = hooksOf('local-rate-limit', { tokensPerFill: 1, fillIntervalMs: 60_000, maxTokens: 2, key: 'client' });
    const a = ctxOf('10.0.0.1');
    expect(hooks.onRequest?.(req('GET'), a, undefined)).toBeUndefined();
    expect(hooks.onRequest?.(req('GET'), a, undefined)).toBeUndefined();
    const r = hooks.onRequest?.(req('GET'), a, undefined) as FilterReply;
    expect(r.status).toBe(429);
    expect(r.headers).toEqual(expect.arrayContaining(['retry-after', '60', 'ratelimit-limit', '2', 'ratelimit-remaining', '0']));
    expect(hooks.onRequest?.(req('GET'), ctxOf('10.0.0.2'), undefined)).toBeUndefined();
  });
});

describe('ip-access', () => {
  it('denies first, then admits only the allow list; IPv4-mapped addresses count as IPv4', () => {
    const { hooks } = hooksOf('ip-access', { allow: ['10.0.0.0/8', '2001:db8::/32'], deny: ['10.9.0.0/16'] });
    expect(hooks.onRequest?.(req('GET'), ctxOf('10.1.2.3'), undefined)).toBeUndefined();
    expect(hooks.onRequest?.(req('GET'), ctxOf('::ffff:10.1.2.3'), undefined)).toBeUndefined();
    expect(hooks.onRequest?.(req('GET'), ctxOf('2001:db8::1'), undefined)).toBeUndefined();
    expect(status(hooks.onRequest?.(req('GET'), ctxOf('10.9.1.1'), undefined))).toBe(403);
    expect(status(hooks.onRequest?.(req('GET'), ctxOf('192.168.1.1'), undefined))).toBe(403);
  });
  it('takes the client from X-Forwarded-For behind trusted hops', () => {
    const { hooks } = hooksOf('ip-access', { allow: ['203.0.113.0/24'], trustedHops: 1 });
    // The proxy appended the peer (10.0.0.1, a trusted load balancer) after the client the balancer saw.
    expect(hooks.onRequest?.(req('GET', ['x-forwarded-for', '198.51.100.7, 203.0.113.9, 10.0.0.1']), ctxOf('10.0.0.1'), undefined)).toBeUndefined();
    expect(status(hooks.onRequest?.(req('GET', ['x-forwarded-for', '203.0.113.9, 198.51.100.7, 10.0.0.1']), ctxOf('10.0.0.1'), undefined))).toBe(403);
  });
});

describe('body-limit', () => {
  it('answers 413 from Content-Length at once, and from a streamed body as it crosses the limit', () => {
    const { hooks, state } = hooksOf('body-limit', { maxBytes: 10 });
    expect(status(hooks.onRequest?.(req('POST', [], 11), ctxOf(), state()))).toBe(413);
    const s = state();
    expect(hooks.onRequestBody?.(Buffer.alloc(6), false, ctxOf(), s)).toBeUndefined();
    expect(status(hooks.onRequestBody?.(Buffer.alloc(6), false, ctxOf(), s))).toBe(413);
  });
});

describe('fault', () => {
  it('aborts every request at 100%, and delays by header when header control is on', async () => {
    expect(status(hooksOf('fault', { abort: { status: 503 } }).hooks.onRequest?.(req('GET'), ctxOf(), undefined))).toBe(503);
    const { hooks } = hooksOf('fault', { headerControl: true });
    expect(hooks.onRequest?.(req('GET'), ctxOf(), undefined)).toBeUndefined();
    const started = performance.now();
    const r = await hooks.onRequest?.(req('GET', ['x-mantou-fault-delay-ms', '50', 'x-mantou-fault-abort', '418']), ctxOf(), undefined);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(status(r)).toBe(418);
  });
});

describe('headers', () => {
  it('fills in request attributes in values', () => {
    const { hooks } = hooksOf('headers', { request: { set: { 'x-client': '%client_address% via %listener%', 'x-literal': '50%off%' } } });
    const r = req('GET');
    hooks.onRequest?.(r, ctxOf('10.0.0.7'), undefined);
    expect(r.headers.get('x-client')).toBe('10.0.0.7 via edge');
    expect(r.headers.get('x-literal')).toBe('50%off%');
  });
});

describe('built-in filter options are checked at load, with their path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mantou-builtin-'));
  const cases: [string, string, RegExp][] = [
    ['cors', '{ allowOrigins: [] }', /filters\[0\]\.config\.allowOrigins: expected a list of at least 1 item/],
    [
      'cors',
      '{ allowOrigins: ["*"], allowCredentials: true }',
      /filters\[0\]\.config: rejected by filter "cors": allowCredentials cannot be used with allowOrigins "\*"/,
    ],
    ['local-rate-limit', '{ tokensPerFill: 0, fillIntervalMs: 1000, maxTokens: 1 }', /filters\[0\]\.config\.tokensPerFill: expected integer >= 1, got 0/],
    ['ip-access', '{ allow: ["10.0.0.0/33"] }', /filters\[0\]\.config: rejected by filter "ip-access": "10\.0\.0\.0\/33" has an invalid prefix length/],
    ['ip-access', '{ deny: [banana] }', /rejected by filter "ip-access": "banana" is not a CIDR range/],
    ['body-limit', '{}', /filters\[0\]\.config\.maxBytes: missing required key "maxBytes"/],
    ['fault', '{ abort: { status: 700 } }', /filters\[0\]\.config\.abort\.status: expected integer 200\.\.599, got 700/],
    ['body-scan', '{ patterns: ["(unclosed"] }', /filters\[0\]\.config: rejected by filter "body-scan": Invalid regular expression/],
  ];
  for (const [name, options, expected] of cases) {
    it(`refuses ${name} with ${options}`, async () => {
      const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(
        file,
        `listeners:\n  - name: edge\n    port: 8080\n    filters: [{ name: ${name}, config: ${options} }]\n    routes: [{ directResponse: { status: 200 } }]\n`,
      );
      const err = await loadConfigFile(file, {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(expected);
    });
  }
});
