// The one mapping from a failure kind to the status the proxy answers with, and the shape of every response
// the proxy makes itself: `x-mantou-local-reply` names the component that made it.

import { STATUS_CODES } from 'node:http';
import type { ErrorKind } from '../errors.ts';
import { ErrorKinds } from '../errors.ts';

export interface LocalReply {
  status: number;
  /** The component that answered: a filter's name, 'router', 'upstream', 'downstream', 'direct-response'. */
  component: string;
  body: string;
  /** Extra response headers as [name, value, …]; validated when the reply is built from config or by a filter. */
  headers?: string[];
  /** Close the downstream connection after this reply (bad framing leaves the connection unusable). */
  closeConnection?: boolean;
}

const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map<string, number>(
  (
    [
      [ErrorKinds.routeNotFound, 404],
      [ErrorKinds.badRequest, 400],
      [ErrorKinds.methodNotImplemented, 501],
      [ErrorKinds.requestHeadersTooLarge, 431],
      [ErrorKinds.requestBodyTooLarge, 413],
      [ErrorKinds.upstreamConnectRefused, 503],
      [ErrorKinds.upstreamConnectFailed, 503],
      [ErrorKinds.upstreamConnectTimeout, 504],
      [ErrorKinds.upstreamOverflow, 503],
      [ErrorKinds.noHealthyEndpoint, 503],
      [ErrorKinds.upstreamResetBeforeResponse, 502],
      [ErrorKinds.upstreamResponseTimeout, 504],
      [ErrorKinds.upstreamProtocolError, 502],
      [ErrorKinds.upstreamResetMidResponse, 502],
      [ErrorKinds.filterError, 500],
      [ErrorKinds.internal, 500],
    ] as [ErrorKind, number][]
  ).map(([k, s]) => [k.code, s]),
);

export function statusFor(kind: ErrorKind): number {
  return STATUS_BY_CODE.get(kind.code) ?? 500;
}

/** Builds the local reply for a failure; the body names the failure kind, never internal details. */
export function localReplyFor(kind: ErrorKind, component: string): LocalReply {
  const status = statusFor(kind);
  return {
    status,
    component,
    body: `${kind.code.replaceAll('_', ' ')}\n`,
    closeConnection: kind.source === 'downstream' && status === 400,
  };
}

const REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Headers of the answers an engine makes itself to requests it refuses before any stream exists. */
export const ENGINE_REPLY_HEADERS: readonly string[] = ['content-type', 'text/plain; charset=utf-8', 'x-mantou-local-reply', 'downstream'];

/** The status's reason phrase: ours above, else the IANA registry's as Node knows it (a filter may answer 451). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? STATUS_CODES[status] ?? 'Unknown';
}

/** A local reply's fields as every engine sends them: who answered, the request id, the reply's own, a text type. */
export function localReplyHeaders(reply: LocalReply, requestId: string): string[] {
  const headers = ['x-mantou-local-reply', reply.component, 'x-request-id', requestId];
  if (reply.headers !== undefined) headers.push(...reply.headers);
  if (!reply.headers?.includes('content-type')) headers.push('content-type', 'text/plain; charset=utf-8');
  return headers;
}
