// Which uWS response is corked right now, and how much of uWS's cork buffer our writes have used.
//
// Why it matters: uWS (uws-pack 20.0.8, AsyncSocket::uncork) loses data when one write does not fit what is left
// of the per-loop cork buffer. It then flushes the cork buffer first, and when the kernel does not take all of
// that, it returns "failed" and drops the new bytes without buffering them. For a chunked `res.write` the size
// line was already corked, so the client gets a chunk header without its data (reproduced: 5 of 8 slow 256 MiB
// downloads with several writes per cork; 0 of 10 when every write fits its cork). So every chunked write is
// sized to fit the room left, and what does not fit is written in fresh corks after the current one ends.

import type { HttpResponse } from 'uWebSockets.js';

/** uWS's per-loop cork buffer (LoopData::CORK_BUFFER_SIZE). */
export const CORK_BUFFER_BYTES = 16 * 1024;

/**
 * What uWS adds to a response head besides our block: "HTTP/1.1 ", line ends, its Date and uWebSockets lines,
 * the Transfer-Encoding line and the blank line (about 100 bytes; rounded up).
 */
export const HEAD_OVERHEAD_BYTES = 192;

/** A chunk's size line around its data ("\r\n", up to 8 hex digits, "\r\n"), rounded up. */
export const CHUNK_OVERHEAD_BYTES = 16;

/** Kept free in every cork so the last chunk ("\r\n0\r\n\r\n") always fits. */
export const LAST_CHUNK_RESERVE = 16;

/**
 * A cork uWS opened itself (request handler, request body): what it already holds is not known. Promise
 * continuations of such a callback also run inside uWS's cork (Node drains microtasks before returning to
 * uWS) but after we marked it closed, so they count from an empty cork: what uWS writes into a cork of its own
 * before calling us (a 100 Continue line) fits in the rounded-up overheads below. Left open: local replies to
 * earlier requests pipelined in the same read could fill more of it before such a continuation writes.
 */
export const UNKNOWN_FILL = -1;

/**
 * How full a cork of unknown content is assumed to be: uWS writes little of its own before calling us (a
 * 100 Continue line, replies to earlier pipelined requests), and only local replies are written in such corks.
 */
export const ASSUMED_UNKNOWN_FILL = CORK_BUFFER_BYTES / 2;

export interface CorkState {
  /** The response whose writes are corked now (ours or uWS's cork), or null. */
  response: HttpResponse | null;
  /** Bytes our writes put in the cork buffer since the cork began; UNKNOWN_FILL in a cork uWS opened. */
  fill: number;
}

export const cork: CorkState = { response: null, fill: 0 };

/** Chunk data bytes the current cork can still take without overflowing (0 when its content is unknown). */
export function chunkRoom(): number {
  if (cork.fill === UNKNOWN_FILL) return 0;
  const room = CORK_BUFFER_BYTES - cork.fill - CHUNK_OVERHEAD_BYTES - LAST_CHUNK_RESERVE;
  return room > 0 ? room : 0;
}

/** Whether `bytes` more (a head block or a whole local reply) fit the current cork. */
export function fitsCork(bytes: number): boolean {
  const fill = cork.fill === UNKNOWN_FILL ? ASSUMED_UNKNOWN_FILL : cork.fill;
  return fill + bytes + LAST_CHUNK_RESERVE <= CORK_BUFFER_BYTES;
}

/** Counts bytes written into the current cork (no-op in a cork of unknown content). */
export function addToCork(bytes: number): void {
  if (cork.fill !== UNKNOWN_FILL) cork.fill += bytes;
}
