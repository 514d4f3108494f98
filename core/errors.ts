// The one catalogue of failures a stream can meet. Each kind is a frozen value: failures on the hot path are
// passed around as values (no stack capture); `local-reply.ts` alone decides which status each kind answers with.

export type ErrorSource = 'downstream' | 'upstream' | 'filter' | 'offload' | 'config' | 'internal';

export interface ErrorKind {
  readonly code: string;
  readonly source: ErrorSource;
  /** True when the request may be sent again to another (or a fresh) upstream connection. */
  readonly retryable: boolean;
}

function kind(code: string, source: ErrorSource, retryable: boolean): ErrorKind {
  return Object.freeze({ code, source, retryable });
}

export const ErrorKinds = Object.freeze({
  routeNotFound: kind('route_not_found', 'downstream', false),
  badRequest: kind('bad_request', 'downstream', false),
  methodNotImplemented: kind('method_not_implemented', 'downstream', false),
  requestHeadersTooLarge: kind('request_headers_too_large', 'downstream', false),
  requestBodyTooLarge: kind('request_body_too_large', 'downstream', false),
  upstreamConnectRefused: kind('upstream_connect_refused', 'upstream', true),
  upstreamConnectFailed: kind('upstream_connect_failed', 'upstream', true),
  upstreamConnectTimeout: kind('upstream_connect_timeout', 'upstream', true),
  upstreamOverflow: kind('upstream_overflow', 'upstream', false),
  noHealthyEndpoint: kind('no_healthy_endpoint', 'upstream', false),
  upstreamResetBeforeResponse: kind('upstream_reset_before_response', 'upstream', true),
  upstreamResponseTimeout: kind('upstream_response_timeout', 'upstream', false),
  upstreamProtocolError: kind('upstream_protocol_error', 'upstream', false),
  upstreamResetMidResponse: kind('upstream_reset_mid_response', 'upstream', false),
  filterError: kind('filter_error', 'filter', false),
  internal: kind('internal_error', 'internal', false),
});

/** One failure of one stream: what kind, and a human detail for logs (never sent to clients verbatim). */
export interface StreamFailure {
  readonly kind: ErrorKind;
  readonly detail: string;
}

export function failure(kind: ErrorKind, detail: string): StreamFailure {
  return { kind, detail };
}

/** A configuration problem at a known place in a file: `file:line:col path: message`. */
export class ConfigError extends Error {
  readonly code = 'config_invalid';
  readonly source: ErrorSource = 'config';
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatConfigProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  /** Dotted path into the document, e.g. `clusters[3].endpoints[2].port`; empty for the document itself. */
  path: string;
  message: string;
}

export function formatConfigProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  return p.path ? `${where} ${p.path}: ${p.message}` : `${where} ${p.message}`;
}

/** A failure while starting: a port in use, a listener that cannot bind. One line for the operator, no stack. */
export class StartupError extends Error {
  readonly code: string;
  readonly source: ErrorSource = 'internal';
  constructor(code: string, message: string) {
    super(message);
    this.name = 'StartupError';
    this.code = code;
  }
}

/** A listener's socket could not be bound; `why` is the errno code (or a few words). */
export function listenFailed(listener: string, address: string, port: number, why: string): StartupError {
  return new StartupError('listen_failed', `listener ${listener}: cannot listen on ${address}:${port} (${why})`);
}
