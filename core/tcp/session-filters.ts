// Runs one TCP session's connection filters (core/tcp/connection-filter.ts): per filter, onConnect then onPreface
// (until it has the bytes it needs), one filter after another, synchronously unless a phase returns a promise;
// then onUpstreamConnect, onData on every chunk, and onClose. What a filter answers is applied through the host
// (the session): close it, wait for client bytes, or go on to the upstream.

import { componentLogger } from '../logger.ts';
import { type ConnectionFilterInstance, isSessionClose, MORE_BYTES, type SessionContext, type SessionOutcome } from './connection-filter.ts';

const log = componentLogger('tcp');

/** Client bytes held before the upstream is connected (prefaces, and what early senders send). */
export const MAX_PREFACE_BYTES = 65_536;

export interface FilterHost {
  readonly session: SessionContext;
  /** Still before the upstream: a settled promise must not act on a session that moved on or closed. */
  readonly filtering: boolean;
  readonly clientEnded: boolean;
  close(reason: string, reset: boolean): void;
  /** A filter threw or rejected (counted and logged by the host, which then resets the session). */
  filterFailed(name: string, err: unknown): void;
  /** A filter waits for client bytes: read the client, with this long to deliver them. */
  waitForClientBytes(timeoutMs: number): void;
  /** A filter is done with the client's bytes: stop any preface deadline. */
  prefaceSatisfied(): void;
  /** Every filter passed: pick and connect the upstream. */
  filtersPassed(): void;
}

export class SessionFilters {
  private readonly filters: readonly ConnectionFilterInstance[];
  private readonly host: FilterHost;
  private readonly states: unknown[] | null;
  /** The filter whose phases run now; those before it have passed. */
  private index = 0;
  /** Filters whose onConnect has run (they get onClose); above `index`, that filter's onPreface is next. */
  private onConnectsRun = 0;
  /** An onPreface answered MORE_BYTES, or has had no bytes yet: the next client bytes run it again. */
  private waitingForBytes = false;
  private readonly idleTimeoutMs: number;
  /** Client bytes read before the upstream (copied out of the read buffer), for the filters and then the upstream. */
  preface: Buffer | null = null;

  constructor(filters: readonly ConnectionFilterInstance[], host: FilterHost, idleTimeoutMs: number) {
    this.filters = filters;
    this.host = host;
    this.idleTimeoutMs = idleTimeoutMs;
    this.states = filters.some((f) => f.newState !== undefined) ? filters.map((f) => f.newState?.()) : null;
  }

  /** Runs phases from where the session stands until one waits (bytes or a promise), closes, or all have passed. */
  run(): void {
    const filters = this.filters;
    const session = this.host.session;
    while (this.host.filtering && this.index < filters.length) {
      const i = this.index;
      const f = filters[i] as ConnectionFilterInstance;
      const fromPreface = this.onConnectsRun > i;
      let result: unknown;
      try {
        if (!fromPreface) {
          this.onConnectsRun = i + 1;
          if (f.hooks.onConnect === undefined) continue;
          result = f.hooks.onConnect(session, this.states?.[i]);
        } else {
          if (f.hooks.onPreface === undefined) {
            this.index++;
            continue;
          }
          if (this.preface === null) {
            this.waitForBytes(f);
            return;
          }
          result = f.hooks.onPreface(this.preface, session, this.states?.[i]);
        }
      } catch (err) {
        this.host.filterFailed(f.name, err);
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (r: unknown) => this.settled(r, fromPreface),
          (err: unknown) => this.host.filterFailed(f.name, err),
        );
        return;
      }
      if (!this.apply(result, fromPreface)) return;
    }
    if (this.host.filtering) this.host.filtersPassed();
  }

  /** Client bytes before the upstream: kept for the filters (and then the upstream), within MAX_PREFACE_BYTES. */
  clientBytes(copy: Buffer): void {
    this.preface = this.preface === null ? copy : Buffer.concat([this.preface, copy]);
    if (this.preface.length > MAX_PREFACE_BYTES && this.host.filtering) {
      this.host.close('preface_too_large', true);
      return;
    }
    if (this.waitingForBytes) {
      this.waitingForBytes = false;
      this.run();
    }
  }

  /** The client sent its FIN: a filter waiting for bytes will not get them. */
  clientEnded(): void {
    if (this.waitingForBytes) this.host.close('client_closed', false);
  }

  /** What onUpstreamConnect hooks want written first; null when one failed (the session is then reset). */
  upstreamConnected(): Buffer[] | null {
    const firsts: Buffer[] = [];
    for (let i = 0; i < this.filters.length; i++) {
      const f = this.filters[i] as ConnectionFilterInstance;
      if (f.hooks.onUpstreamConnect === undefined) continue;
      try {
        const first = f.hooks.onUpstreamConnect(this.host.session, this.states?.[i]);
        if (first instanceof Buffer) firsts.push(first);
      } catch (err) {
        this.host.filterFailed(f.name, err);
        return null;
      }
    }
    return firsts;
  }

  /** onData of every filter that has it, in order; null when one closed (or failed) the session. */
  data(chunk: Buffer, fromClient: boolean): Buffer | null {
    const filters = this.filters;
    let out = chunk;
    for (let i = 0; i < filters.length; i++) {
      const f = filters[i] as ConnectionFilterInstance;
      if (f.hooks.onData === undefined) continue;
      let r: unknown;
      try {
        r = f.hooks.onData(out, fromClient, this.host.session, this.states?.[i]);
      } catch (err) {
        this.host.filterFailed(f.name, err);
        return null;
      }
      if (r instanceof Buffer) out = r;
      else if (isSessionClose(r)) {
        this.host.close(r.closeReason, r.reset);
        return null;
      }
    }
    return out;
  }

  /** onClose, exactly once, in reverse, for every filter whose onConnect ran; returns the filters that threw. */
  closed(outcome: SessionOutcome): string[] {
    const failed: string[] = [];
    for (let i = this.onConnectsRun - 1; i >= 0; i--) {
      const f = this.filters[i] as ConnectionFilterInstance;
      try {
        f.hooks.onClose?.(outcome, this.host.session, this.states?.[i]);
      } catch (err) {
        failed.push(f.name);
        log.error(
          { err, filter: f.name, listener: this.host.session.listenerName, session: this.host.session.sessionId },
          'connection filter failed in onClose',
        );
      }
    }
    return failed;
  }

  get anyConnectRan(): boolean {
    return this.onConnectsRun > 0;
  }

  private settled(result: unknown, fromPreface: boolean): void {
    if (this.host.filtering && this.apply(result, fromPreface)) this.run();
  }

  /** Applies what a phase answered; false when the filter waits for bytes or closed the session. */
  private apply(result: unknown, fromPreface: boolean): boolean {
    if (isSessionClose(result)) {
      this.host.close(result.closeReason, result.reset);
      return false;
    }
    if (!fromPreface) return true;
    if (result === MORE_BYTES) {
      this.waitForBytes(this.filters[this.index] as ConnectionFilterInstance);
      return false;
    }
    if (result instanceof Buffer) this.preface = result.length > 0 ? result : null;
    this.index++;
    this.host.prefaceSatisfied();
    return true;
  }

  private waitForBytes(f: ConnectionFilterInstance): void {
    if (this.host.clientEnded) {
      this.host.close('client_closed', false);
      return;
    }
    this.waitingForBytes = true;
    this.host.waitForClientBytes(f.hooks.prefaceTimeoutMs ?? this.idleTimeoutMs);
  }
}
