// Builds each route's filter chain: the listener's filters in order (each instantiated once per generation, or
// again for a route that overrides its options; left out where a route disables it), then the route's own
// header rules as a `headers` filter. Options get their schema's defaults filled in before `create` sees them.

import { FilterChain, type HttpFilterInstance } from '../core/http/filter-chain.ts';
import { componentLogger } from '../core/logger.ts';
import type { ConnectionFilterInstance } from '../core/tcp/connection-filter.ts';
import { type FilterDefinition, instantiateFilter } from '../filters/api.ts';
import { type ConnectionFilterDefinition, instantiateConnectionFilter } from '../filters/connection-api.ts';
import headersFilter from '../filters/headers.ts';
import { builtinConnectionFilters, builtinFilters } from '../filters/registry.ts';
import { type FilterModules, modulePath, optionsWithDefaults } from './filter-resolution.ts';
import type { ListenerConfig, RouteConfig } from './schema.ts';

const EMPTY_CHAIN = new FilterChain([]);

/** One listener filter, compiled once per generation. */
export interface ListenerFilter {
  readonly name: string;
  readonly definition: FilterDefinition;
  readonly instance: HttpFilterInstance;
}

export function compileListenerFilters(l: ListenerConfig, configDir: string, modules: FilterModules): ListenerFilter[] {
  return (l.filters ?? []).map((f) => {
    const definition = (f.module === undefined ? builtinFilters.get(f.name) : modules.get(modulePath(configDir, f.module))) as FilterDefinition | undefined;
    // The supervisor resolved and checked every filter before sending the generation.
    if (definition === undefined) throw new Error(`filter ${f.name} of listener ${l.name} is not loaded`);
    return { name: f.name, definition, instance: instantiate(definition, f.config, f.name, configDir) };
  });
}

export function routeFilterChain(r: RouteConfig, listenerFilters: readonly ListenerFilter[], configDir: string): FilterChain {
  const filters: HttpFilterInstance[] = [];
  for (const f of listenerFilters) {
    const override = r.filters?.[f.name];
    if (override?.disabled === true) continue;
    filters.push(override?.config === undefined ? f.instance : instantiate(f.definition, override.config, f.name, configDir));
  }
  if (r.requestHeaders !== undefined || r.responseHeaders !== undefined) {
    const options = { request: r.requestHeaders, response: r.responseHeaders };
    const instance = instantiate(headersFilter as unknown as FilterDefinition, options, 'route-headers', configDir);
    if (instance.hooks.onRequest !== undefined || instance.hooks.onResponse !== undefined) filters.push(instance);
  }
  return filters.length === 0 ? EMPTY_CHAIN : new FilterChain(filters);
}

function instantiate(definition: FilterDefinition, options: unknown, name: string, configDir: string): HttpFilterInstance {
  const log = componentLogger('filter').child({ filter: name });
  return instantiateFilter(definition, optionsWithDefaults(definition, options) as never, { log, configDir }, name);
}

/** A tcp listener's connection filters, in order, each instantiated once per generation. */
export function compileConnectionFilters(
  l: ListenerConfig,
  configDir: string,
  modules: FilterModules,
  clusterNames: ReadonlySet<string>,
): ConnectionFilterInstance[] {
  return (l.filters ?? []).map((f) => {
    const definition = (f.module === undefined ? builtinConnectionFilters.get(f.name) : modules.get(modulePath(configDir, f.module))) as
      | ConnectionFilterDefinition
      | undefined;
    if (definition === undefined) throw new Error(`filter ${f.name} of listener ${l.name} is not loaded`);
    const log = componentLogger('filter').child({ filter: f.name });
    const options = optionsWithDefaults(definition, f.config);
    return instantiateConnectionFilter(definition, options, { log, configDir, listenerName: l.name, clusterNames }, f.name);
  });
}
