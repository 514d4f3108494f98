// Everything a filter author imports. A filter is a name, an options schema, optional per-stream state, and a
// `create` that runs once per generation per worker and returns the phase hooks (see docs and DESIGN.md §6).
//
// Phase return values: `undefined` continues (the fast path: no promise, no allocation); a FilterReply answers
// locally and stops (`x-mantou-local-reply` names the filter); a Buffer from a body phase replaces the chunk;
// a Promise pauses that direction until it settles; a throw or rejection becomes a 500 naming the filter.

import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { FilterReply, HttpFilterHooks, HttpFilterInstance, Phase } from '../core/http/filter-chain.ts';

/** TypeBox's builder, for options schemas: `config: T.Object({ key: T.String() })`. */
export { Type as T } from '@sinclair/typebox';
export type { FilterReply, HttpFilterHooks, Phase } from '../core/http/filter-chain.ts';
export { HeaderList } from '../core/http/header-list.ts';
export type { RequestHead } from '../core/http/request-head.ts';
export type { ResponseHead } from '../core/http/response-head.ts';
export type { StreamContext, StreamOutcome } from '../core/http/stream-context.ts';

/** What `create` receives besides its options. */
export interface FilterEnv {
  /** A logger child named after the filter. */
  readonly log: Logger;
  /** Directory of the config file, for resolving relative paths in options. */
  readonly configDir: string;
}

export interface FilterDefinition<S extends TSchema = TSchema, St = undefined> {
  /** kebab-case; used in config, logs, metrics and the local-reply header. */
  readonly name: string;
  /** Options schema, checked when the config is loaded. */
  readonly config: S;
  /** Per-stream private state, same shape every time (keep it small: it is allocated per request). */
  readonly state?: () => St;
  readonly create: (options: Static<S>, env: FilterEnv) => HttpFilterHooks<St>;
}

export function defineFilter<S extends TSchema, St = undefined>(d: FilterDefinition<S, St>): FilterDefinition<S, St> {
  if (!/^[a-z][a-z0-9-]*$/.test(d.name)) throw new Error(`filter name "${d.name}" must be kebab-case`);
  return Object.freeze(d);
}

/** Instantiates a definition for one generation. */
export function instantiateFilter<S extends TSchema, St>(
  d: FilterDefinition<S, St>,
  options: Static<S>,
  env: FilterEnv,
  instanceName = d.name,
): HttpFilterInstance {
  const hooks = d.create(options, env) as HttpFilterHooks<unknown>;
  return { name: instanceName, hooks, newState: d.state };
}

/** Convenience for filters answering locally. */
export function reply(status: number, body = '', headers?: string[]): FilterReply {
  return { status, body, headers };
}

export type { Phase as FilterPhase };
