// Everything a filter author imports — from a module anywhere on disk as `import { defineFilter, reply, T } from
// 'mantou'`. A filter is a name, an options schema, optional per-stream state, and a `create` that runs once per
// generation (per config load) in every worker and returns the phase hooks. docs/filters.md is the guide.
// (Connection filters for `protocol: tcp` listeners — defineConnectionFilter — are at the end of this file and
// described in filters/connection-api.ts and docs/tcp.md.)
//
// Phases, in the order a stream meets them (request phases run in the listener's filter order, response
// phases in reverse):
//   onRequest(req, ctx, state)            after routing, before the request goes upstream
//   onRequestBody(chunk, end, ctx, state) each request body chunk (`end` on the last; the last may be empty)
//   onUpstreamRequest(req, ctx, state)    after load balancing, just before the head is written upstream
//   onResponse(res, ctx, state)           the upstream's response head
//   onResponseBody(chunk, end, ctx, state) each response body chunk
//   onDone(outcome, ctx, state)           exactly once, synchronously, however the stream ended
//
// What a phase returns:
//   undefined        continue at once (the fast path: no promise, no allocation)
//   reply(...)       answer locally and stop; `x-mantou-local-reply` names the filter (not from body responses)
//   a Buffer         (body phases) replaces this chunk; the response is then re-framed (chunked)
//   a Promise        pauses that direction — the client or upstream socket stops being read — until it settles
//                    with one of the above
//   throws/rejects   500 naming the filter (or the client connection is closed if the response has started), a log
//                    line and a per-filter failure counter; never a crashed worker (onDone: the log line and the
//                    counter, and the other filters' onDone still run)
//
// Local replies pass onResponse too (as with Envoy's encoder filters): a filter's reply — made in onRequest, or in
// onResponse in place of the upstream's response — passes the filters before it, in reverse; a reply made after
// every onRequest ran (upstream errors, timeouts, a 413) passes them all; a reply a filter makes while a local reply
// passes it goes out as it is; the router's 404 passes none (no route, no chain). Body phases do not run on local
// replies.

import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { FilterReply, HttpFilterHooks, HttpFilterInstance, Phase } from '../core/http/filter-chain.ts';

/** TypeBox's builder, for options schemas: `config: T.Object({ key: T.String() })`; `default` values are filled in. */
export { Type as T } from '@sinclair/typebox';
export type { FilterReply, HttpFilterHooks, Phase } from '../core/http/filter-chain.ts';
/**
 * Headers as a flat list with lower-case names: get(name), getAll(name), has(name), add(name, value) (appends),
 * set(name, value) (replaces), append(name, value) (comma-joins), remove(name). Names and values are checked:
 * a CR, LF or NUL throws (and becomes a 500 naming the filter) — nothing unsafe reaches the wire.
 */
export { HeaderList } from '../core/http/header-list.ts';
/** The request: method, path, query, target, headers (a HeaderList), contentLength (-1 unknown), chunked, host. */
export type { RequestHead } from '../core/http/request-head.ts';
/** The response: status, reason, headers (a HeaderList), contentLength (-1 unknown), bodyless. */
export type { ResponseHead } from '../core/http/response-head.ts';
/**
 * What a filter knows of its stream besides heads and bodies: requestId, remoteAddress (the peer), listenerName,
 * routeName, clusterName, startMs (performance.now() at the request head), `attributes` (a Map shared by the
 * stream's filters and read by the access log: put typed values there, not in headers), and
 * `bufferRequestBody(maxBytes)` (call it in onRequest: the request waits until its whole body has arrived, and
 * onRequestBody sees it once, whole, with end = true; over maxBytes the client gets 413 naming the filter; that
 * memory is reused once the body has been written upstream, so copy what you keep past the phase).
 */
export type { StreamContext, StreamOutcome } from '../core/http/stream-context.ts';

/** What `create` receives besides its options. */
export interface FilterEnv {
  /** A logger (pino) named after the filter instance. Check `log.isLevelEnabled` before building costly fields. */
  readonly log: Logger;
  /** Directory of the config file, for resolving relative paths in options (key files, lists). */
  readonly configDir: string;
}

export interface FilterDefinition<S extends TSchema = TSchema, St = undefined> {
  /** kebab-case; the default instance name. */
  readonly name: string;
  /** Options schema, checked when the config is loaded (errors carry file:line:col and the option's path). */
  readonly config: S;
  /** Per-stream private state, created for each stream (keep it small: it is allocated per request). */
  readonly state?: () => St;
  /**
   * Once per generation per worker (and once more when the config is checked): validate what the schema cannot
   * (throwing refuses the config, with the message), prepare what every request needs, return the hooks.
   */
  readonly create: (options: Static<S>, env: FilterEnv) => HttpFilterHooks<St>;
  /**
   * Set it when the filter's onRequestBody only ever sees bodies it asked for whole: its onRequest calls
   * `ctx.bufferRequestBody` for every request with a body. On the `native` engine a route is served natively when
   * none of its filters has onResponseBody, their onRequestBody hooks are of filters that set this (or
   * `chunkedBodiesOnly`), and their onResponse hooks of filters that set `synchronousResponse` (onRequest,
   * onUpstreamRequest and onDone always qualify), with the body gathered in C (docs/filters.md); without it a
   * filter with onRequestBody sends its route to the `net` engine. Nothing else changes (but natively
   * onUpstreamRequest runs before a connection to the endpoint is taken, not once it is ready).
   */
  readonly wholeRequestBody?: boolean;
  /**
   * Set it when the filter's onResponse never returns a promise (it answers at once: continue, or a reply). On the
   * `native` engine a route whose response-side hooks are only such onResponse hooks is then served natively too:
   * the addon hands JavaScript the response head between reading it and writing it to the client, which cannot
   * wait. A promise returned all the same becomes a 500 naming the filter. Without it, a filter with onResponse
   * sends its route to the `net` engine. Nothing else changes (docs/filters.md).
   */
  readonly synchronousResponse?: boolean;
  /**
   * Set it when the filter's onRequestBody matters only for bodies of unknown length (chunked): its onRequest has
   * already decided on a Content-Length body (body-limit does). On the `native` engine the filter then does not
   * send its route to the `net` engine; a chunked body on that route still goes there, where onRequestBody runs.
   */
  readonly chunkedBodiesOnly?: boolean;
}

/** Declares a filter; a module's default export. */
export function defineFilter<S extends TSchema, St = undefined>(d: FilterDefinition<S, St>): FilterDefinition<S, St> {
  if (!/^[a-z][a-z0-9-]*$/.test(d.name)) throw new Error(`filter name "${d.name}" must be kebab-case`);
  return Object.freeze(d);
}

/** Instantiates a definition for one generation (the config compiler's business). */
export function instantiateFilter<S extends TSchema, St>(
  d: FilterDefinition<S, St>,
  options: Static<S>,
  env: FilterEnv,
  instanceName = d.name,
): HttpFilterInstance {
  const hooks = d.create(options, env) as HttpFilterHooks<unknown>;
  return {
    name: instanceName,
    hooks,
    newState: d.state,
    wholeRequestBody: d.wholeRequestBody === true,
    synchronousResponse: d.synchronousResponse === true,
    chunkedBodiesOnly: d.chunkedBodiesOnly === true,
  };
}

/** A local reply: status, a text body, and headers as a flat [name, value, …] list (checked like any header). */
export function reply(status: number, body = '', headers?: string[]): FilterReply {
  return { status, body, headers };
}

// Connection (L4) filters, for `protocol: tcp` listeners: hooks onConnect, onPreface, onUpstreamConnect, onData,
// onClose per session (filters/connection-api.ts documents each).
export {
  type ConnectionFilterDefinition,
  type ConnectionFilterEnv,
  type ConnectionFilterHooks,
  closeSession,
  defineConnectionFilter,
  MORE_BYTES,
  type SessionClose,
  type SessionContext,
  type SessionOutcome,
} from './connection-api.ts';
export type { Phase as FilterPhase };
