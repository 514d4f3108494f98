// The native HTTP engine's failure kinds (enum h1_failure in native/h1.h) as the other engines know them: the
// error kind each names (for the counters), the local reply the client gets for it (rendered here, the same bytes
// the net engine sends), and how a held exchange that ended with it ended (the onDone outcome's part the addon
// knows: core/http/native-filtered.ts end()).

import { type ErrorKind, ErrorKinds } from '../errors.ts';
import { ENGINE_REPLY_HEADERS, localReplyFor, localReplyHeaders, reasonPhrase } from './local-reply.ts';
import { wholeResponseText } from './net-response-writer.ts';

/** How the addon says an exchange ended (exchangeEndOf): its part of the onDone outcome. */
export interface ExchangeEnd {
  /** The failure's code (core/errors.ts; 'downstream_aborted' when the client went), '' when none. */
  readonly failureCode: string;
  /** The component whose local reply the addon sent for the failure, '' when it sent none. */
  readonly component: string;
  /** Whether the response went out whole. */
  readonly completed: boolean;
}

/** The addon's failure kinds (enum h1_failure in native/h1.h), as the other engines name them. */
const FAILURES: readonly (ErrorKind | null)[] = [
  null,
  ErrorKinds.upstreamConnectRefused,
  ErrorKinds.upstreamConnectFailed,
  ErrorKinds.upstreamConnectTimeout,
  ErrorKinds.upstreamResetBeforeResponse,
  ErrorKinds.upstreamProtocolError,
  ErrorKinds.upstreamResponseTimeout,
  ErrorKinds.upstreamOverflow,
  ErrorKinds.upstreamResetMidResponse,
  null, // the client went away
  null, // F_BODY_TIMEOUT: the client stalled in its request body (408, rendered by renderFailure)
];
/** F_BODY_TIMEOUT in native/h1.h. */
const BODY_TIMEOUT = 10;
/** F_BAD_CHUNK in native/h1.h: F_BAD_CHUNK + i is a chunked request body malformed as CHUNK_ERRORS[i] says. */
const BAD_CHUNK = 11;
/** F_INTERNAL in native/h1.h: JavaScript asked something of a held exchange that cannot be (a bug): 500. */
const INTERNAL = 64;
/** The net engine's details for a malformed chunked body (core/http/chunked-decoder.ts), in enum h1_chunk_error's order. */
export const CHUNK_ERRORS = [
  'chunk size too large',
  'invalid chunk size',
  'invalid byte in chunk extension',
  'chunk extension too long',
  'bare CR after chunk size',
  'missing CRLF after chunk data',
  'trailers too large',
  'invalid trailer field',
  'invalid byte in trailers',
  'bare CR in trailers',
];

/** done()'s io[2 + 2i] is failure + STATUS_UNIT · the status sent (H1_STATUS_UNIT in native/h1.h). */
export const STATUS_UNIT = 256;

/** How an exchange ended, by the addon's failure kind, as the net engine tells it to onDone (stream-base.ts finish). */
export function exchangeEndOf(failure: number): ExchangeEnd {
  if (failure === 0) return SERVED;
  const kind = failureKindOf(failure);
  // The client went away, stalled in its body, or sent a malformed one: the net engine's stream ends aborted.
  return kind === null ? DOWNSTREAM_ABORTED : (ENDS_BY_KIND.get(kind) as ExchangeEnd);
}

const SERVED: ExchangeEnd = { failureCode: '', component: '', completed: true };
const DOWNSTREAM_ABORTED: ExchangeEnd = { failureCode: 'downstream_aborted', component: '', completed: false };

/**
 * The end of each kind failureKindOf() can answer: a failure before the response began got the client a local
 * reply (from `upstream`, or from `native` for an internal one); one after it began cut the response short.
 */
const ENDS_BY_KIND = new Map<ErrorKind, ExchangeEnd>([
  ...FAILURES.filter((k): k is ErrorKind => k !== null).map((k): [ErrorKind, ExchangeEnd] =>
    k === ErrorKinds.upstreamResetMidResponse
      ? [k, { failureCode: k.code, component: '', completed: false }]
      : [k, { failureCode: k.code, component: 'upstream', completed: true }],
  ),
  [ErrorKinds.internal, { failureCode: ErrorKinds.internal.code, component: 'native', completed: true }],
]);

/** A failure's local reply, as the other engines make it (stream-base.ts sendLocalReply); `close`: it always closes. */
export function failureReply(kindIndex: number, requestId: string): { status: number; headers: readonly string[]; body: string; close: boolean } {
  // The net engine's answer to a stalled body (net-connection.ts timeout408), byte for byte.
  if (kindIndex === BODY_TIMEOUT) return { status: 408, headers: ENGINE_REPLY_HEADERS, body: 'request body timeout\n', close: true };
  // And to a malformed chunked body (request-parser.ts: 400 with the decoder's detail).
  const chunkError = CHUNK_ERRORS[kindIndex - BAD_CHUNK];
  if (chunkError !== undefined) return { status: 400, headers: ENGINE_REPLY_HEADERS, body: `${chunkError}\n`, close: true };
  const kind = FAILURES[kindIndex] ?? ErrorKinds.internal;
  const reply = localReplyFor(kind, kindIndex === INTERNAL ? 'native' : 'upstream');
  return { status: reply.status, headers: localReplyHeaders(reply, requestId), body: reply.body, close: false };
}

/** The local reply for a failure, whole (the engine-level ones, 408 and 400, never for a HEAD's sake headless). */
export function renderFailure(kindIndex: number, requestId: string, headOnly: boolean, close: boolean): string {
  const r = failureReply(kindIndex, requestId);
  return wholeResponseText(r.status, reasonPhrase(r.status), r.headers, r.body, headOnly && !r.close, false, close || r.close);
}

/** The error kind a failure counts as (null: none, or the client's doing). */
export function failureKindOf(failure: number): ErrorKind | null {
  return failure === INTERNAL ? ErrorKinds.internal : (FAILURES[failure] ?? null);
}
