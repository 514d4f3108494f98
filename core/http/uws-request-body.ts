// The request body side of one uWS request: pause and resume around uWS's quirks. uWS must never be paused twice
// in a row, and it goes on delivering after pause() while a fast client keeps its reads full (uSockets ignores
// the pause then): past a small allowance, what arrives is held in a RequestBodySpill and handed on in order
// when the stream resumes.

import type { HttpResponse } from 'uWebSockets.js';
import { componentLogger } from '../logger.ts';
import { releaseChunk } from '../util/chunk-pool.ts';
import type { DownstreamHandler } from './downstream.ts';
import { RequestBodySpill, type SpillError } from './request-body-spill.ts';

const log = componentLogger('uws-listener');
const EMPTY_BODY = Buffer.alloc(0);

/**
 * Bytes passed on after a pause before the rest is held: an upload that overshoots by a chunk or two goes on as
 * before (the upstream socket queues it) and pays nothing for the spill (holding every chunk that came after a
 * pause cost 10-40% CPU on 64 KiB uploads).
 */
const PASS_WHILE_PAUSED_BYTES = 256 * 1024;

/** What the request body needs from its response. */
export interface RequestBodyOwner {
  readonly isClosed: boolean;
  /** The body cannot be held: close the connection and tell the stream. */
  abandon(): void;
}

export class UwsRequestBody {
  handler: DownstreamHandler | null = null;
  private readonly res: HttpResponse;
  private readonly owner: RequestBodyOwner;
  /** The stream wants no request body now. */
  private paused = false;
  /** uWS's socket is paused: kept apart from `paused`, because pause() must never be called twice in a row. */
  private uwsPaused = false;
  /** Bytes passed on since the body was paused. */
  private bytesWhilePaused = 0;
  /** What uWS delivered beyond the allowance while paused, or null. */
  private spill: RequestBodySpill | null = null;

  constructor(res: HttpResponse, owner: RequestBodyOwner, handler: DownstreamHandler | null) {
    this.res = res;
    this.owner = owner;
    this.handler = handler;
  }

  /** A chunk from uWS (a pooled copy): passed on, or held while the body is paused and something is held. */
  receive(chunk: Buffer, last: boolean): void {
    if (this.owner.isClosed || this.handler === null) {
      // Nobody's (the connection is gone, or the response is complete: release()): its slab may be reused.
      releaseChunk(chunk);
      return;
    }
    const spill = this.spill;
    if (spill === null && (!this.paused || this.bytesWhilePaused + chunk.length <= PASS_WHILE_PAUSED_BYTES)) {
      if (this.paused) this.bytesWhilePaused += chunk.length;
      this.handler.onRequestBody(chunk, last);
      return;
    }
    const held = spill ?? new RequestBodySpill();
    this.spill = held;
    try {
      held.hold(chunk);
    } catch (err) {
      this.fail(err as SpillError);
      return;
    }
    if (last) held.ended = true;
  }

  /**
   * uWS pauses by unpolling the socket, and still delivers what it had buffered; calling pause() again while
   * paused makes it deliver far more (probed on 20.0.8: 42 MB vs 14 MB over eight pauses), so only edges call it.
   */
  pause(): void {
    if (this.owner.isClosed || this.paused) return;
    this.paused = true;
    this.bytesWhilePaused = 0;
    if (this.uwsPaused) return;
    this.uwsPaused = true;
    this.res.pause();
  }

  resume(): void {
    if (this.owner.isClosed || !this.paused) return;
    this.paused = false;
    if (this.spill !== null) this.handOnHeld();
    // uWS reads again only once nothing is held: what it delivers next goes straight to the stream.
    if (this.paused || this.owner.isClosed || this.spill !== null || !this.uwsPaused) return;
    this.uwsPaused = false;
    this.res.resume();
  }

  /**
   * The response is complete: the rest of the body is nobody's, and uWS reads and skips it by itself before the
   * next request (probed on 20.0.8, Content-Length and chunked bodies alike), so a paused socket reads again.
   * Left paused, the connection hung after an early reply (found by the exchange fuzz test). Called before uWS
   * ends the response: the response object is gone after that.
   */
  release(): void {
    this.drop();
    this.paused = false;
    this.handler = null;
    if (!this.uwsPaused || this.owner.isClosed) return;
    this.uwsPaused = false;
    this.res.resume();
  }

  /** Drops what is held (the request is gone). */
  drop(): void {
    this.spill?.discard();
    this.spill = null;
  }

  /** Hands held bytes to the stream in order until it pauses again or nothing is left. */
  private handOnHeld(): void {
    const spill = this.spill as RequestBodySpill;
    while (!this.paused && !this.owner.isClosed) {
      let chunk: Buffer | null;
      try {
        chunk = spill.take();
      } catch (err) {
        this.fail(err as SpillError);
        return;
      }
      const last = spill.ended && spill.isEmpty;
      if (chunk === null && !last) {
        this.spill = null;
        return;
      }
      if (last) this.spill = null;
      this.handler?.onRequestBody(chunk ?? EMPTY_BODY, last);
      if (last) return;
    }
  }

  /** The body cannot be held (no writable temporary directory, disk full): the request cannot complete. */
  private fail(err: SpillError): void {
    log.error({ err }, 'request body spill failed: closing the connection');
    this.drop();
    this.owner.abandon();
  }
}
