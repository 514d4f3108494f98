// What filters see of one stream besides its heads and bodies.

export interface StreamContext {
  readonly requestId: string;
  readonly remoteAddress: string;
  readonly listenerName: string;
  readonly routeName: string;
  readonly clusterName: string;
  /** performance.now() when the request head arrived. */
  readonly startMs: number;
  /** Typed values shared between filters and read by the access log; created on first use. */
  readonly attributes: Map<string, unknown>;
  /**
   * Called in onRequest: the body is gathered before the request goes upstream, and onRequestBody sees it once,
   * whole, with `end` true (a filter may then answer, or replace it). Over `maxBytes` the client gets 413. The
   * body's memory is reused once it has been written upstream: copy what a filter keeps past that phase.
   */
  bufferRequestBody(maxBytes: number): void;
  /**
   * Runs CPU-heavy work in this worker's offload pool (piscina) instead of on the data-plane event loop:
   * `taskUrl`'s default export is called with `input`; ArrayBuffers in `transfer` move with it (exact-size, and
   * unusable here afterwards). Rejects with an OffloadError whose code says saturated, timeout or failed.
   */
  offload<T>(taskUrl: string, input: unknown, transfer?: ArrayBuffer[], options?: { timeoutMs?: number; maxQueue?: number }): Promise<T>;
}

/** How a stream ended, handed to onDone exactly once. */
export interface StreamOutcome {
  /** The status sent downstream, or 0 when no response head was sent. */
  status: number;
  /** The failure code (see core/errors.ts) when the stream failed, else ''. */
  failureCode: string;
  /** The component that answered locally ('' when the upstream answered). */
  localReplyComponent: string;
  /** Whether the response was completed (false when truncated or aborted). */
  completed: boolean;
  durationMs: number;
}
