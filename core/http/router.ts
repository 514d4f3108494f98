// Picks the route for a request: the first route (in config order) whose host, path, method and header
// conditions all hold. Matchers are compiled once per generation.

import type { Cluster } from '../upstream/cluster.ts';
import type { FilterChain } from './filter-chain.ts';
import type { RequestHead } from './request-head.ts';

export interface HeaderCondition {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: RegExp;
  /** true: the header must be present; false: it must be absent. */
  present?: boolean;
}

export interface RouteMatch {
  /** Exact host names (lower-case, port stripped). */
  hostsExact?: ReadonlySet<string>;
  /** Host suffixes from `*.example.com` patterns, stored as `.example.com`. */
  hostSuffixes?: readonly string[];
  pathExact?: string;
  pathPrefix?: string;
  /** Anchored: must match the whole path. */
  pathRegex?: RegExp;
  methods?: ReadonlySet<string>;
  headers?: readonly HeaderCondition[];
}

export interface DirectResponse {
  status: number;
  headers: readonly string[];
  body: string;
}

export interface Route {
  name: string;
  match: RouteMatch;
  cluster: Cluster | null;
  directResponse: DirectResponse | null;
  prefixRewrite?: string;
  hostRewrite?: string;
  timeoutMs: number;
  chain: FilterChain;
}

export class Router {
  readonly routes: readonly Route[];

  constructor(routes: readonly Route[]) {
    this.routes = routes;
  }

  match(head: RequestHead): Route | null {
    const host = normalizeHost(head.host);
    for (const route of this.routes) if (matches(route.match, head, host)) return route;
    return null;
  }
}

function matches(m: RouteMatch, head: RequestHead, host: string): boolean {
  if (m.hostsExact !== undefined || m.hostSuffixes !== undefined) {
    let ok = m.hostsExact?.has(host) ?? false;
    if (!ok && m.hostSuffixes !== undefined) {
      for (const s of m.hostSuffixes) {
        if (host.length > s.length && host.endsWith(s)) {
          ok = true;
          break;
        }
      }
    }
    if (!ok) return false;
  }
  const path = head.path;
  if (m.pathExact !== undefined && path !== m.pathExact) return false;
  if (m.pathPrefix !== undefined && !path.startsWith(m.pathPrefix)) return false;
  if (m.pathRegex !== undefined && !m.pathRegex.test(path)) return false;
  if (m.methods !== undefined && !m.methods.has(head.method)) return false;
  if (m.headers !== undefined) {
    for (const c of m.headers) {
      const v = head.headers.get(c.name);
      if (c.present !== undefined && (v !== undefined) !== c.present) return false;
      if (v === undefined) {
        if (c.exact !== undefined || c.prefix !== undefined || c.regex !== undefined) return false;
        continue;
      }
      if (c.exact !== undefined && v !== c.exact) return false;
      if (c.prefix !== undefined && !v.startsWith(c.prefix)) return false;
      if (c.regex !== undefined && !c.regex.test(v)) return false;
    }
  }
  return true;
}

/** Lower-case host without the port; `[::1]:80` → `[::1]`. */
export function normalizeHost(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === 0x5b /* [ */) {
    const close = host.indexOf(']');
    end = close < 0 ? end : close + 1;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) end = colon;
  }
  const h = end === host.length ? host : host.slice(0, end);
  return h.toLowerCase();
}
