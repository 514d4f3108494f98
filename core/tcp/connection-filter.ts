// The L4 side of the filter contract (DESIGN.md §6): hooks a connection filter gives each TCP session, what they
// see of the session, and what they may answer. The session (tcp-session.ts) runs them; filters/connection-api.ts
// is what authors import.
//
// Per filter, in the listener's order: onConnect, then onPreface (when the filter has one) until it is satisfied;
// only then the next filter. After every filter: the upstream connection, onUpstreamConnect (in order), and the
// relay, with onData on every chunk either way when any filter has it. onClose runs for every filter whose
// onConnect ran, exactly once, in reverse order.

export type Phase<R> = R | Promise<R>;

/** Returned by onPreface: call again when more client bytes have arrived. */
export const MORE_BYTES = Symbol('more bytes');

/** A filter's decision to end the session. */
export interface SessionClose {
  readonly closeReason: string;
  /** Reset (RST) instead of a FIN: the client then cannot mistake the close for a normal end. */
  readonly reset: boolean;
}

export interface SessionContext {
  readonly listenerName: string;
  /** Per worker, increasing: with the worker's thread id in the log it names the session. */
  readonly sessionId: number;
  /** The client: the peer, or the address a PROXY protocol header announced. */
  clientAddress: string;
  clientPort: number;
  /** The address the client connected to (a PROXY protocol header may announce another). */
  localAddress: string;
  localPort: number;
  /** The cluster the session goes to: the listener's `cluster`, unless a filter (sni-router) picks another. */
  clusterName: string;
  /** The upstream endpoint as "address:port", once connected ('' before). */
  readonly upstreamEndpoint: string;
  /** Active sessions of this listener in every worker, this one included, when it was accepted. */
  readonly listenerActiveSessions: number;
  /** Sessions this listener accepted in the wall-clock second this one was accepted in (all workers, this one included). */
  readonly listenerSessionsThisSecond: number;
  /** performance.now() at accept. */
  readonly startMs: number;
  /** Typed values shared by the session's filters and written to its access-log line; created on first use. */
  readonly attributes: Map<string, unknown>;
}

/** How a session ended, handed to onClose. */
export interface SessionOutcome {
  /** Why it ended: `client_closed`, `upstream_closed`, `idle_timeout`, `connect_failed`, a filter's reason, … */
  closeReason: string;
  /** Bytes received from the client and from the upstream. */
  bytesFromClient: number;
  bytesFromUpstream: number;
  durationMs: number;
}

export interface ConnectionFilterHooks<S> {
  /** A new session. */
  onConnect?(session: SessionContext, s: S): Phase<void | SessionClose>;
  /**
   * The client's first bytes, before any upstream is chosen (all that arrived so far, up to 64 KiB): answer
   * MORE_BYTES to wait for more, a Buffer to replace them (a subarray strips a header), or close.
   */
  onPreface?(bytes: Buffer, session: SessionContext, s: S): Phase<void | typeof MORE_BYTES | Buffer | SessionClose>;
  /** How long onPreface may wait for its bytes before the session closes with `preface_timeout`. */
  readonly prefaceTimeoutMs?: number;
  /** Connected upstream: a Buffer returned here is written to the upstream before any client byte. */
  onUpstreamConnect?(session: SessionContext, s: S): void | Buffer;
  /**
   * Each chunk either way, synchronously: a Buffer replaces it, a SessionClose ends the session. The chunk is a
   * view of a read buffer reused after the call: copy what you keep.
   */
  onData?(chunk: Buffer, fromClient: boolean, session: SessionContext, s: S): void | Buffer | SessionClose;
  /** Exactly once, synchronously. */
  onClose?(outcome: SessionOutcome, session: SessionContext, s: S): void;
}

/** One configured connection filter in one generation. */
export interface ConnectionFilterInstance {
  readonly name: string;
  readonly hooks: ConnectionFilterHooks<unknown>;
  readonly newState?: () => unknown;
}

export function isSessionClose(v: unknown): v is SessionClose {
  return typeof v === 'object' && v !== null && typeof (v as SessionClose).closeReason === 'string';
}
