// Resolves the filters a config names: built-ins from the registry, custom ones from TypeScript modules next to
// the config file. A module is imported under a URL carrying a hash of its content, so a reload after the file
// changed loads the new code (and an unchanged file keeps its module instance). Options are checked against each
// filter's own schema here, so a bad option is a config error with its line and column, never a crash later.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { TypeGuard } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { registerFilterImports } from '../core/filter-imports.ts';
import { componentLogger } from '../core/logger.ts';
import type { FilterDefinition } from '../filters/api.ts';
import { type ConnectionFilterDefinition, type ConnectionFilterEnv, isConnectionFilter } from '../filters/connection-api.ts';
import { builtinConnectionFilters, builtinFilters } from '../filters/registry.ts';
import type { Config } from './schema.ts';
import { schemaProblems } from './schema-problems.ts';
import type { SemanticProblem } from './semantic-checks.ts';

/** What a trial `create` logs goes nowhere: it only checks the options. */
const silentLog = componentLogger('filter-check').child({}, { level: 'silent' });

/** Module files (absolute paths) → the URL to import them by (content-hashed). */
export type FilterModuleUrls = Record<string, string>;

/** Either kind of filter: HTTP (defineFilter) or connection (defineConnectionFilter). */
export type AnyFilterDefinition = FilterDefinition | ConnectionFilterDefinition;

/** Module files (absolute paths) → their filter definitions, for one generation. */
export type FilterModules = ReadonlyMap<string, AnyFilterDefinition>;

export interface ResolvedFilters {
  urls: FilterModuleUrls;
  modules: FilterModules;
  problems: SemanticProblem[];
}

/** The absolute path of a filter module named in the config. */
export function modulePath(configDir: string, module: string): string {
  return resolve(configDir, module);
}

/** Imports every custom filter module and checks every filter's name and options. */
export async function resolveFilters(config: Config, configDir: string): Promise<ResolvedFilters> {
  registerFilterImports();
  const urls: FilterModuleUrls = {};
  const modules = new Map<string, AnyFilterDefinition>();
  const problems: SemanticProblem[] = [];
  const report = (path: (string | number)[], message: string) => problems.push({ path, message });
  const clusterNames = new Set((config.clusters ?? []).map((c) => c.name));

  for (const [li, l] of config.listeners.entries()) {
    const tcp = l.protocol === 'tcp';
    const builtins: ReadonlyMap<string, AnyFilterDefinition> = tcp ? builtinConnectionFilters : builtinFilters;
    const byName = new Map<string, AnyFilterDefinition>();
    for (const [fi, f] of (l.filters ?? []).entries()) {
      const at = ['listeners', li, 'filters', fi];
      if (byName.has(f.name)) report([...at, 'name'], `duplicate filter name "${f.name}" in this listener`);
      let def: AnyFilterDefinition | undefined;
      if (f.module === undefined) {
        def = builtins.get(f.name);
        if (def === undefined) {
          const kind = tcp ? 'connection filter (tcp listener)' : 'filter';
          report([...at, 'name'], `unknown built-in ${kind} "${f.name}" (built-in: ${[...builtins.keys()].join(', ')}); a custom filter needs "module"`);
        }
      } else {
        const path = modulePath(configDir, f.module);
        const loaded = await loadModule(path, urls, modules);
        if (typeof loaded === 'string') report([...at, 'module'], loaded);
        else if (isConnectionFilter(loaded) !== tcp) {
          report(
            [...at, 'module'],
            tcp
              ? `filter "${loaded.name}" is an HTTP filter (defineFilter): a tcp listener takes connection filters (defineConnectionFilter)`
              : `filter "${loaded.name}" is a connection filter (defineConnectionFilter): it runs on protocol: tcp listeners only`,
          );
        } else def = loaded;
      }
      if (def === undefined) continue;
      byName.set(f.name, def);
      checkOptions(def, f.config, [...at, 'config'], { log: silentLog, configDir, listenerName: l.name, clusterNames }, problems);
    }
    for (const [ri, r] of (l.routes ?? []).entries()) {
      for (const [name, o] of Object.entries(r.filters ?? {})) {
        const at = ['listeners', li, 'routes', ri, 'filters', name];
        const def = byName.get(name);
        if (def === undefined) {
          const known = [...byName.keys()].map((n) => `"${n}"`).join(', ') || 'none';
          report(at, `no filter "${name}" on this listener to override (listener filters: ${known})`);
          continue;
        }
        if (o.config !== undefined) checkOptions(def, o.config, [...at, 'config'], { log: silentLog, configDir, listenerName: l.name, clusterNames }, problems);
      }
    }
  }
  return { urls, modules, problems };
}

/** Imports the modules a generation names (a worker, with the URLs the supervisor resolved and checked). */
export async function importFilterModules(urls: FilterModuleUrls): Promise<FilterModules> {
  registerFilterImports();
  const modules = new Map<string, AnyFilterDefinition>();
  for (const [path, url] of Object.entries(urls)) {
    const def = definitionOf(await import(url), path);
    if (typeof def === 'string') throw new Error(def);
    modules.set(path, def);
  }
  return modules;
}

async function loadModule(path: string, urls: FilterModuleUrls, modules: Map<string, AnyFilterDefinition>): Promise<AnyFilterDefinition | string> {
  const known = modules.get(path);
  if (known !== undefined) return known;
  let source: Buffer;
  try {
    source = readFileSync(path);
  } catch (err) {
    return `cannot read filter module ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const url = `${pathToFileURL(path).href}?v=${createHash('sha256').update(source).digest('hex').slice(0, 16)}`;
  let exports: unknown;
  try {
    exports = await import(url);
  } catch (err) {
    return `cannot load filter module ${path}: ${briefly((err as Error).message)}`;
  }
  const def = definitionOf(exports, path);
  if (typeof def === 'string') return def;
  urls[path] = url;
  modules.set(path, def);
  return def;
}

/** The module's default export when it is a filter definition, else what is wrong with it. */
function definitionOf(exports: unknown, path: string): AnyFilterDefinition | string {
  const d = (exports as { default?: unknown }).default as Partial<FilterDefinition> | undefined;
  if (d === undefined || d === null || typeof d !== 'object') return `filter module ${path} has no default export (export default defineFilter({ … }))`;
  if (typeof d.name !== 'string' || typeof d.create !== 'function' || !TypeGuard.IsSchema(d.config)) {
    return `filter module ${path}: the default export is not a filter definition (name, config schema and create are required; use defineFilter or defineConnectionFilter)`;
  }
  return d as AnyFilterDefinition;
}

/**
 * Options against the filter's schema, then a trial `create`: what a schema cannot say (a CIDR that does not
 * parse, a key file that is missing) is thrown by `create`, and reported here instead of failing a worker.
 */
function checkOptions(def: AnyFilterDefinition, options: unknown, at: (string | number)[], env: ConnectionFilterEnv, problems: SemanticProblem[]): void {
  const withDefaults = optionsWithDefaults(def, options);
  const found = schemaProblems(def.config as TSchema, withDefaults);
  for (const p of found) problems.push({ path: [...at, ...p.segments], message: p.message });
  if (found.length > 0) return;
  try {
    def.create(withDefaults as never, env);
  } catch (err) {
    problems.push({ path: at, message: `rejected by filter "${def.name}": ${briefly((err as Error).message)}` });
  }
}

/** A copy of `options` (absent: {}) with the defaults of the filter's schema filled in. */
export function optionsWithDefaults(def: AnyFilterDefinition, options: unknown): unknown {
  return Value.Default(def.config as TSchema, structuredClone(options ?? {}));
}

/** A compile error's first two lines (the summary and where): enough for one log line. */
function briefly(s: string): string {
  return s
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 2)
    .join(' ');
}
