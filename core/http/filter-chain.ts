// Runs the head phases of one route's filters over one stream (body phases: body-flow.ts). Built once per
// generation; the synchronous path allocates nothing. A phase that returns a promise pauses until it settles.

import type { LocalReply } from './local-reply.ts';
import type { RequestHead } from './request-head.ts';
import type { ResponseHead } from './response-head.ts';
import type { StreamContext, StreamOutcome } from './stream-context.ts';

export type Phase<R> = R | Promise<R>;

/** A filter's answer: a status, a body and optional headers; the chain fills in the component. */
export interface FilterReply {
  status: number;
  body?: string;
  /** Flat [name, value, …]. */
  headers?: string[];
}

export interface HttpFilterHooks<S> {
  onRequest?(req: RequestHead, ctx: StreamContext, s: S): Phase<void | FilterReply>;
  onRequestBody?(chunk: Buffer, end: boolean, ctx: StreamContext, s: S): Phase<void | Buffer | FilterReply>;
  onUpstreamRequest?(req: RequestHead, ctx: StreamContext, s: S): Phase<void | FilterReply>;
  onResponse?(res: ResponseHead, ctx: StreamContext, s: S): Phase<void | FilterReply>;
  onResponseBody?(chunk: Buffer, end: boolean, ctx: StreamContext, s: S): Phase<void | Buffer>;
  onDone?(outcome: StreamOutcome, ctx: StreamContext, s: S): void;
}

/** One configured filter in one generation: its name, its hooks, and how to make its per-stream state. */
export interface HttpFilterInstance {
  readonly name: string;
  readonly hooks: HttpFilterHooks<unknown>;
  readonly newState?: () => unknown;
  /** Its onRequestBody sees only bodies it buffered whole (FilterDefinition.wholeRequestBody). */
  readonly wholeRequestBody?: boolean;
  /** Its onResponse never returns a promise (FilterDefinition.synchronousResponse). */
  readonly synchronousResponse?: boolean;
  /** Its onRequestBody matters only for chunked bodies (FilterDefinition.chunkedBodiesOnly). */
  readonly chunkedBodiesOnly?: boolean;
}

type HeadPhase = 'onRequest' | 'onUpstreamRequest' | 'onResponse';

/** The result of running a head phase synchronously. */
export const ChainResult = { Continue: 0, Replied: 1, Pending: 2 } as const;
export type ChainResult = (typeof ChainResult)[keyof typeof ChainResult];

/** A filter's failure: thrown or rejected, named so the local reply and the counter can say who. */
export interface FilterFailure {
  filter: string;
  error: unknown;
}

export interface ChainHost {
  readonly ctx: StreamContext;
  /** The filter whose head-phase hook runs now (replies it triggers later, like a 413, are named after it). */
  currentFilter: string;
  /** Its index in the chain. */
  currentFilterIndex: number;
  /** Per-filter state in chain order, or null when no filter keeps state. */
  readonly filterStates: unknown[] | null;
  /** A filter answered: send `reply` made by `component`. */
  onFilterReply(reply: LocalReply): void;
  onFilterFailure(f: FilterFailure): void;
  /** A filter's onDone threw: nothing can be answered any more, but it is logged and counted like any failure. */
  onDoneFailure(f: FilterFailure): void;
  /** A paused head phase finished with "continue". */
  onPhaseResumed(phase: HeadPhase): void;
}

export class FilterChain {
  readonly filters: readonly HttpFilterInstance[];
  readonly hasState: boolean;
  readonly hasRequestBody: boolean;
  readonly hasResponseBody: boolean;
  readonly hasDone: boolean;
  /**
   * Only hooks the native engine can run itself (core/http/native-filtered.ts, holding the exchange in C):
   * onRequest, onRequestBody of filters that see bodies whole (or only chunked ones, which the native engine
   * hands to the net engine), onUpstreamRequest, onResponse of filters that answer it at once, and onDone.
   */
  readonly nativeCapable: boolean;
  /** Some filter has onResponse. */
  readonly hasResponse: boolean;
  /** Some filter has onUpstreamRequest. */
  readonly hasUpstreamRequest: boolean;
  /** Some filter sees request bodies whole (its onRequestBody, FilterDefinition.wholeRequestBody). */
  readonly hasWholeRequestBody: boolean;

  constructor(filters: readonly HttpFilterInstance[]) {
    this.filters = filters;
    this.hasState = filters.some((f) => f.newState !== undefined);
    this.hasRequestBody = filters.some((f) => f.hooks.onRequestBody !== undefined);
    this.hasResponseBody = filters.some((f) => f.hooks.onResponseBody !== undefined);
    this.hasDone = filters.some((f) => f.hooks.onDone !== undefined);
    this.hasResponse = filters.some((f) => f.hooks.onResponse !== undefined);
    this.hasUpstreamRequest = filters.some((f) => f.hooks.onUpstreamRequest !== undefined);
    this.hasWholeRequestBody = filters.some((f) => f.hooks.onRequestBody !== undefined && f.wholeRequestBody === true);
    this.nativeCapable = filters.every((f) => {
      const h = f.hooks;
      return (
        h.onResponseBody === undefined &&
        (h.onRequestBody === undefined || f.wholeRequestBody === true || f.chunkedBodiesOnly === true) &&
        (h.onResponse === undefined || f.synchronousResponse === true)
      );
    });
  }

  get isEmpty(): boolean {
    return this.filters.length === 0;
  }

  newStates(): unknown[] | null {
    if (!this.hasState) return null;
    return this.filters.map((f) => (f.newState === undefined ? undefined : f.newState()));
  }

  /** Runs a head phase from filter `from` on; request phases in order, onResponse in reverse. */
  runHead(phase: HeadPhase, head: RequestHead | ResponseHead, host: ChainHost, from = -1): ChainResult {
    const filters = this.filters;
    const reverse = phase === 'onResponse';
    const n = filters.length;
    let i = from >= 0 ? from : reverse ? n - 1 : 0;
    while (reverse ? i >= 0 : i < n) {
      const f = filters[i] as HttpFilterInstance;
      const hook = f.hooks[phase] as ((h: unknown, c: StreamContext, s: unknown) => Phase<void | FilterReply>) | undefined;
      if (hook !== undefined) {
        let r: Phase<void | FilterReply>;
        host.currentFilter = f.name;
        host.currentFilterIndex = i;
        try {
          r = hook.call(f.hooks, head, host.ctx, host.filterStates === null ? undefined : host.filterStates[i]);
        } catch (error) {
          host.onFilterFailure({ filter: f.name, error });
          return ChainResult.Replied;
        }
        if (r !== undefined) {
          if (isPromise(r)) {
            this.awaitHead(phase, head, host, i, r);
            return ChainResult.Pending;
          }
          host.onFilterReply(toLocalReply(r, f.name));
          return ChainResult.Replied;
        }
      }
      i += reverse ? -1 : 1;
    }
    return ChainResult.Continue;
  }

  /** onDone for every filter, in reverse; a throwing filter does not stop the others. */
  runDone(outcome: StreamOutcome, host: ChainHost): void {
    const filters = this.filters;
    for (let i = filters.length - 1; i >= 0; i--) {
      const f = filters[i] as HttpFilterInstance;
      if (f.hooks.onDone === undefined) continue;
      try {
        f.hooks.onDone(outcome, host.ctx, host.filterStates === null ? undefined : host.filterStates[i]);
      } catch (error) {
        host.onDoneFailure({ filter: f.name, error });
      }
    }
  }

  private awaitHead(phase: HeadPhase, head: RequestHead | ResponseHead, host: ChainHost, i: number, p: Promise<void | FilterReply>): void {
    const name = (this.filters[i] as HttpFilterInstance).name;
    const next = phase === 'onResponse' ? i - 1 : i + 1;
    p.then(
      (r) => {
        if (r !== undefined) {
          host.onFilterReply(toLocalReply(r, name));
          return;
        }
        const end = phase === 'onResponse' ? next < 0 : next >= this.filters.length;
        if (end || this.runHead(phase, head, host, next) === ChainResult.Continue) host.onPhaseResumed(phase);
      },
      (error: unknown) => host.onFilterFailure({ filter: name, error }),
    );
  }
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as Promise<unknown>).then === 'function';
}

function toLocalReply(r: FilterReply, component: string): LocalReply {
  return { status: r.status, component, body: r.body ?? '', headers: r.headers };
}
