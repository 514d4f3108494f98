// Runs one direction's body phases (onRequestBody in order, onResponseBody in reverse) over one stream's chunks.
// A phase that returns a promise pauses that direction: the source is paused (the client socket, or the upstream
// socket), chunks that were already on their way wait here in order, and flow resumes once the promise settles
// and the waiting chunks went through. The synchronous path allocates nothing.

import type { ChainHost, FilterChain, FilterReply, HttpFilterInstance, Phase } from './filter-chain.ts';

export type BodyDirection = 'request' | 'response';

/** Where chunks go once every filter passed them, and how to stop and restart their source. */
export interface BodyFlowSink {
  deliverBody(direction: BodyDirection, chunk: Buffer, end: boolean): void;
  pauseBodySource(direction: BodyDirection): void;
  resumeBodySource(direction: BodyDirection): void;
}

type BodyHook = (chunk: Buffer, end: boolean, ctx: ChainHost['ctx'], s: unknown) => Phase<void | Buffer | FilterReply>;

export class BodyFlow {
  private readonly chain: FilterChain;
  private readonly direction: BodyDirection;
  private readonly host: ChainHost;
  private readonly sink: BodyFlowSink;
  /** A phase is pending: chunks wait in `waiting` ([chunk, end] pairs). */
  private busy = false;
  private sourcePaused = false;
  private stopped = false;
  private readonly waiting: (Buffer | boolean)[] = [];

  constructor(chain: FilterChain, direction: BodyDirection, host: ChainHost, sink: BodyFlowSink) {
    this.chain = chain;
    this.direction = direction;
    this.host = host;
    this.sink = sink;
  }

  push(chunk: Buffer, end: boolean): void {
    if (this.stopped) return;
    if (this.busy) {
      this.waiting.push(chunk, end);
      return;
    }
    this.run(chunk, end, this.first());
  }

  /** The stream ended (answered, failed or aborted): nothing more is delivered. */
  stop(): void {
    this.stopped = true;
    this.waiting.length = 0;
  }

  private first(): number {
    return this.direction === 'request' ? 0 : this.chain.filters.length - 1;
  }

  private run(chunk: Buffer, end: boolean, from: number): void {
    const filters = this.chain.filters;
    const step = this.direction === 'request' ? 1 : -1;
    const phase = this.direction === 'request' ? 'onRequestBody' : 'onResponseBody';
    const states = this.host.filterStates;
    let current = chunk;
    for (let i = from; i >= 0 && i < filters.length; i += step) {
      const f = filters[i] as HttpFilterInstance;
      const hook = f.hooks[phase] as BodyHook | undefined;
      if (hook === undefined) continue;
      let r: Phase<void | Buffer | FilterReply>;
      try {
        r = hook.call(f.hooks, current, end, this.host.ctx, states === null ? undefined : states[i]);
      } catch (error) {
        this.fail(f.name, error);
        return;
      }
      if (r === undefined) continue;
      if (Buffer.isBuffer(r)) {
        current = r;
        continue;
      }
      if (typeof (r as Promise<unknown>).then === 'function') {
        this.await(r as Promise<void | Buffer | FilterReply>, f.name, current, end, i + step);
        return;
      }
      this.reply(r as FilterReply, f.name);
      return;
    }
    this.sink.deliverBody(this.direction, current, end);
  }

  private await(p: Promise<void | Buffer | FilterReply>, name: string, chunk: Buffer, end: boolean, next: number): void {
    this.busy = true;
    if (!this.sourcePaused) {
      this.sourcePaused = true;
      this.sink.pauseBodySource(this.direction);
    }
    p.then(
      (r) => {
        if (this.stopped) return;
        if (r !== undefined && !Buffer.isBuffer(r)) {
          this.reply(r, name);
          return;
        }
        this.busy = false;
        this.run(r ?? chunk, end, next);
        this.drain();
      },
      (error: unknown) => {
        if (!this.stopped) this.fail(name, error);
      },
    );
  }

  /** Sends the chunks that waited, in order, until one pauses again; then lets the source flow. */
  private drain(): void {
    const w = this.waiting;
    while (!this.busy && !this.stopped && w.length > 0) {
      const chunk = w.shift() as Buffer;
      const end = w.shift() as boolean;
      // A phase that goes asynchronous again holds the rest (the loop ends on `busy`).
      this.run(chunk, end, this.first());
    }
    if (!this.busy && !this.stopped && this.sourcePaused) {
      this.sourcePaused = false;
      this.sink.resumeBodySource(this.direction);
    }
  }

  private reply(r: FilterReply, name: string): void {
    this.stop();
    this.host.onFilterReply({ status: r.status, component: name, body: r.body ?? '', headers: r.headers });
  }

  private fail(name: string, error: unknown): void {
    this.stop();
    this.host.onFilterFailure({ filter: name, error });
  }
}
