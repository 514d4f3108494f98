import { describe, expect, it } from 'vitest';
import { FilterChain } from '../../../../core/http/filter-chain.ts';
import { HeaderList } from '../../../../core/http/header-list.ts';
import { RequestHead } from '../../../../core/http/request-head.ts';
import { normalizeHost, type Route, type RouteMatch, Router } from '../../../../core/http/router.ts';

const chain = new FilterChain([]);
const route = (name: string, match: RouteMatch): Route => ({ name, match, cluster: null, directResponse: null, timeoutMs: 1000, chain });
const req = (method: string, path: string, headers: string[]) => new RequestHead(method, path, '', new HeaderList(headers), -1, false);

const router = new Router([
  route('exact-host', { hostsExact: new Set(['api.example.com']), pathPrefix: '/v1' }),
  route('wildcard-host', { hostsExact: new Set(), hostSuffixes: ['.example.com'] }),
  route('exact-path', { pathExact: '/health' }),
  route('regex-path', { pathRegex: /^(?:\/users\/\d+)$/ }),
  route('method', { methods: new Set(['DELETE']) }),
  route('header', { headers: [{ name: 'x-canary', exact: '1' }] }),
  route('absent-header', { pathPrefix: '/hdr', headers: [{ name: 'x-debug', present: false }] }),
  route('fallback', { pathPrefix: '/' }),
]);

const pick = (method: string, path: string, headers: string[] = []) => router.match(req(method, path, headers))?.name;

describe('Router', () => {
  it('matches exact hosts ignoring case and port', () => {
    expect(pick('GET', '/v1/x', ['host', 'API.example.com:8080'])).toBe('exact-host');
  });
  it('matches *.suffix hosts but not the bare suffix', () => {
    expect(pick('GET', '/x', ['host', 'www.example.com'])).toBe('wildcard-host');
    expect(pick('GET', '/x', ['host', 'example.com'])).toBe('fallback');
  });
  it('matches exact and whole-path regex paths', () => {
    expect(pick('GET', '/health')).toBe('exact-path');
    expect(pick('GET', '/health/x')).toBe('fallback');
    expect(pick('GET', '/users/42')).toBe('regex-path');
    expect(pick('GET', '/users/42/x')).toBe('fallback');
  });
  it('matches methods and header conditions', () => {
    expect(pick('DELETE', '/x')).toBe('method');
    expect(pick('GET', '/x', ['x-canary', '1'])).toBe('header');
    expect(pick('GET', '/x', ['x-canary', '2'])).toBe('fallback');
    expect(pick('GET', '/hdr', ['x-debug', '1'])).toBe('fallback');
    expect(pick('GET', '/hdr')).toBe('absent-header');
  });
  it('returns null when nothing matches', () => {
    expect(new Router([route('only', { pathExact: '/a' })]).match(req('GET', '/b', []))).toBeNull();
  });
  it('normalizes IPv6 hosts with ports', () => {
    expect(normalizeHost('[::1]:8080')).toBe('[::1]');
  });
});
