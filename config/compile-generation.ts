// Turns a validated config into a Generation for this thread: clusters with pools, routers with compiled
// matchers, and one filter chain per route (compile-filter-chains.ts).

import { dirname } from 'node:path';
import type { Generation, HttpListenerRuntime, ListenerRuntime, TcpListenerRuntime } from '../core/generation.ts';
import type { NetEngineSettings } from '../core/http/net-settings.ts';
import { type DirectResponse, type HeaderCondition, type Route, type RouteMatch, Router } from '../core/http/router.ts';
import { newStreamCounters } from '../core/http/stream-counters.ts';
import type { GenerationState, WorkerLifecycle } from '../core/lifecycle.ts';
import { Cluster } from '../core/upstream/cluster.ts';
import { compileConnectionFilters, compileListenerFilters, type ListenerFilter, routeFilterChain } from './compile-filter-chains.ts';
import type { FilterModules } from './filter-resolution.ts';
import { type ClusterConfig, type Config, defaults, type ListenerConfig, type RouteConfig } from './schema.ts';

/**
 * Compiles `config` as generation `id`. Clusters whose definition is identical to one in `previous` reuse
 * that cluster (its pools and their warm connections) instead of opening new ones.
 */
export function compileGeneration(
  config: Config,
  id: number,
  configFile: string,
  lifecycle: WorkerLifecycle,
  previous: Generation | null = null,
  modules: FilterModules = new Map(),
  sessionSlots: Readonly<Record<string, number>> = {},
): Generation {
  const clusters = new Map<string, Cluster>();
  const clusterKeys = new Map<string, string>();
  for (const c of config.clusters ?? []) {
    const key = JSON.stringify(c);
    const old = previous?.clusters.get(c.name);
    clusters.set(c.name, old !== undefined && previous?.clusterKeys.get(c.name) === key ? old : compileCluster(c));
    clusterKeys.set(c.name, key);
  }
  const state: GenerationState = { id, inflight: 0, retired: false };
  const shared: Shared = { configDir: dirname(configFile), state, lifecycle, modules };
  const listeners: ListenerRuntime[] = config.listeners.map((l) =>
    l.protocol === 'tcp' ? compileTcpListener(l, clusters, shared, sessionSlots[l.name] ?? -1) : compileListener(l, clusters, shared),
  );
  return { id, listeners, clusters, clusterKeys, state };
}

function compileCluster(c: ClusterConfig): Cluster {
  return new Cluster({
    name: c.name,
    endpoints: c.endpoints.map((e) => ({ address: e.address, port: e.port, weight: e.weight ?? 1 })),
    connectTimeoutMs: c.connectTimeoutMs ?? defaults.connectTimeoutMs,
    maxConnectionsPerEndpoint: c.maxConnectionsPerEndpoint ?? defaults.maxConnectionsPerEndpoint,
    maxPendingRequestsPerEndpoint: c.maxPendingRequestsPerEndpoint ?? defaults.maxPendingRequestsPerEndpoint,
    idleTimeoutMs: c.idleTimeoutMs ?? defaults.idleTimeoutMs,
    maxResponseHeadBytes: c.maxResponseHeadersBytes ?? defaults.maxResponseHeadersBytes,
  });
}

interface Shared {
  configDir: string;
  modules: FilterModules;
  state: GenerationState;
  lifecycle: WorkerLifecycle;
}

function compileListener(l: ListenerConfig, clusters: Map<string, Cluster>, shared: Shared): HttpListenerRuntime {
  const filters = compileListenerFilters(l, shared.configDir, shared.modules);
  const routes = (l.routes ?? []).map((r, i) => compileRoute(r, i, l.name, clusters, filters, shared.configDir));
  const counters = newStreamCounters();
  return {
    protocol: 'http',
    name: l.name,
    address: l.address ?? defaults.listenerAddress,
    port: l.port,
    engine: l.engine ?? defaults.engine,
    maxRequestHeadersBytes: l.maxRequestHeadersBytes ?? defaults.maxRequestHeadersBytes,
    context: {
      name: l.name,
      router: new Router(routes),
      maxBufferedRequestBytes: defaults.maxBufferedRequestBytes,
      counters,
      generation: shared.state,
      lifecycle: shared.lifecycle,
      net: netSettings(l),
    },
  };
}

function compileTcpListener(l: ListenerConfig, clusters: Map<string, Cluster>, shared: Shared, sessionSlot: number): TcpListenerRuntime {
  const filters = compileConnectionFilters(l, shared.configDir, shared.modules, new Set(clusters.keys()));
  return {
    protocol: 'tcp',
    name: l.name,
    address: l.address ?? defaults.listenerAddress,
    port: l.port,
    sessionSlot,
    context: {
      name: l.name,
      defaultCluster: l.cluster ?? '',
      clusters,
      filters,
      dataFilters: filters.some((f) => f.hooks.onData !== undefined),
      idleTimeoutMs: l.timeouts?.idleMs ?? defaults.tcpIdleTimeoutMs,
      maxSessionMs: l.timeouts?.maxSessionMs ?? 0,
      maxConnectAttempts: l.maxConnectAttempts ?? defaults.maxConnectAttempts,
      accessLog: l.accessLog ?? true,
      generation: shared.state,
      lifecycle: shared.lifecycle,
    },
  };
}

function netSettings(l: ListenerConfig): NetEngineSettings {
  const t = l.timeouts ?? {};
  return {
    limits: {
      maxHeadBytes: l.maxRequestHeadersBytes ?? defaults.maxRequestHeadersBytes,
      maxUriBytes: l.maxRequestUriBytes ?? defaults.maxRequestUriBytes,
      maxFields: l.maxRequestHeaders ?? defaults.maxRequestHeaders,
    },
    headerTimeoutMs: t.headerMs ?? defaults.headerTimeoutMs,
    idleTimeoutMs: t.idleMs ?? defaults.idleTimeoutMsDownstream,
    bodyTimeoutMs: t.bodyMs ?? defaults.bodyTimeoutMs,
    requestTimeoutMs: t.requestMs ?? defaults.requestTimeoutMs,
    tunnelIdleTimeoutMs: t.tunnelIdleMs ?? defaults.tunnelIdleTimeoutMs,
    upgrades: new Set((l.upgrades ?? defaults.upgrades).map((u) => u.toLowerCase())),
  };
}

function compileRoute(
  r: RouteConfig,
  index: number,
  listener: string,
  clusters: Map<string, Cluster>,
  filters: readonly ListenerFilter[],
  configDir: string,
): Route {
  return {
    name: r.name ?? `${listener}/${index}`,
    match: compileMatch(r),
    cluster: r.cluster === undefined ? null : (clusters.get(r.cluster) ?? null),
    directResponse: compileDirectResponse(r),
    prefixRewrite: r.prefixRewrite,
    hostRewrite: r.hostRewrite,
    timeoutMs: r.timeoutMs ?? defaults.routeTimeoutMs,
    chain: routeFilterChain(r, filters, configDir),
  };
}

function compileMatch(r: RouteConfig): RouteMatch {
  const m = r.match;
  const out: RouteMatch = {};
  if (m === undefined) return out;
  if (m.host !== undefined) {
    const hosts = typeof m.host === 'string' ? [m.host] : m.host;
    const exact = new Set<string>();
    const suffixes: string[] = [];
    let any = false;
    for (const h of hosts) {
      const lower = h.toLowerCase();
      if (lower === '*') any = true;
      else if (lower.startsWith('*.')) suffixes.push(lower.slice(1));
      else exact.add(lower);
    }
    if (!any) {
      out.hostsExact = exact;
      if (suffixes.length > 0) out.hostSuffixes = suffixes;
    }
  }
  if (m.path?.exact !== undefined) out.pathExact = m.path.exact;
  if (m.path?.prefix !== undefined) out.pathPrefix = m.path.prefix;
  if (m.path?.regex !== undefined) out.pathRegex = new RegExp(`^(?:${m.path.regex})$`);
  if (m.method !== undefined) out.methods = new Set(typeof m.method === 'string' ? [m.method] : m.method);
  if (m.headers !== undefined) {
    out.headers = m.headers.map(
      (h): HeaderCondition => ({
        name: h.name.toLowerCase(),
        exact: h.exact,
        prefix: h.prefix,
        regex: h.regex === undefined ? undefined : new RegExp(`^(?:${h.regex})$`),
        present: h.present,
      }),
    );
  }
  return out;
}

function compileDirectResponse(r: RouteConfig): DirectResponse | null {
  const d = r.directResponse;
  if (d === undefined) return null;
  return {
    status: d.status,
    headers: Object.entries(d.headers ?? {}).flatMap(([k, v]) => [k.toLowerCase(), v]),
    body: d.body ?? '',
  };
}
