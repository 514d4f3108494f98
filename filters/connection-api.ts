// What a connection (L4) filter author imports — `import { defineConnectionFilter, closeSession, MORE_BYTES, T }
// from 'mantou'`. A connection filter runs on `protocol: tcp` listeners, once per session; the hooks and their
// order are described in core/tcp/connection-filter.ts and docs/tcp.md.
//
//   onConnect(session, state)            a new session (client address known; nothing read yet)
//   onPreface(bytes, session, state)     the client's first bytes, before an upstream is chosen: MORE_BYTES waits for
//                                        more, a Buffer replaces them, closeSession(...) refuses; set
//                                        session.clusterName here to route (sni-router does)
//   onUpstreamConnect(session, state)    connected: a returned Buffer is written upstream first (proxy-protocol)
//   onData(chunk, fromClient, session, state)   every chunk either way (synchronous): a Buffer replaces it
//   onClose(outcome, session, state)     exactly once
//
// onConnect and onPreface may return a promise (the session waits; the client is not read meanwhile, past what a
// preface holds). A throw or rejection resets the session, logs a line and counts a failure for the filter.

import type { Static, TSchema } from '@sinclair/typebox';
import type { ConnectionFilterHooks, ConnectionFilterInstance, SessionClose } from '../core/tcp/connection-filter.ts';
import type { FilterEnv } from './api.ts';

export type { ConnectionFilterHooks, SessionClose, SessionContext, SessionOutcome } from '../core/tcp/connection-filter.ts';
export { MORE_BYTES } from '../core/tcp/connection-filter.ts';

export interface ConnectionFilterEnv extends FilterEnv {
  readonly listenerName: string;
  /** The clusters of this config, for filters that route (checked when the config loads). */
  readonly clusterNames: ReadonlySet<string>;
}

export interface ConnectionFilterDefinition<S extends TSchema = TSchema, St = undefined> {
  readonly kind: 'connection';
  readonly name: string;
  readonly config: S;
  /** Per-session private state. */
  readonly state?: () => St;
  /** Once per generation per worker (and once more when the config is checked); throwing refuses the config. */
  readonly create: (options: Static<S>, env: ConnectionFilterEnv) => ConnectionFilterHooks<St>;
}

/** Declares a connection filter; a module's default export. */
export function defineConnectionFilter<S extends TSchema, St = undefined>(
  d: Omit<ConnectionFilterDefinition<S, St>, 'kind'>,
): ConnectionFilterDefinition<S, St> {
  if (!/^[a-z][a-z0-9-]*$/.test(d.name)) throw new Error(`filter name "${d.name}" must be kebab-case`);
  return Object.freeze({ ...d, kind: 'connection' as const });
}

export function isConnectionFilter(d: unknown): d is ConnectionFilterDefinition {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'connection';
}

/** Instantiates a definition for one generation (the config compiler's business). */
export function instantiateConnectionFilter(
  d: ConnectionFilterDefinition,
  options: unknown,
  env: ConnectionFilterEnv,
  instanceName = d.name,
): ConnectionFilterInstance {
  const hooks = d.create(options as never, env) as ConnectionFilterHooks<unknown>;
  return { name: instanceName, hooks, newState: d.state };
}

/**
 * Ends the session: `reason` is recorded (close-reason counter, access log); `reset` (the default) resets the
 * client connection so a refusal cannot pass for a clean, empty session.
 */
export function closeSession(reason: string, reset = true): SessionClose {
  return { closeReason: reason, reset };
}
