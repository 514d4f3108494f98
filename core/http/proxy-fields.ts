// The fields the proxy adds to every request it forwards, whichever engine serves it (stream-request-path.ts for
// net and uWS, native-filtered.ts for a filtered request the native engine holds; the native path writes the same
// fields in C, native/h1-parse.c): the request id it logs, and X-Forwarded-For/-Proto/-Host.

import type { RequestHead } from './request-head.ts';

/** Whether the client sent an x-request-id: when absent or empty the proxy forwards the one it made. */
export const RequestIdIn = { Absent: 0, Empty: 1, Present: 2 } as const;
export type RequestIdIn = (typeof RequestIdIn)[keyof typeof RequestIdIn];

/** What the client's x-request-id value (undefined: none) means for the one forwarded. */
export function requestIdIn(value: string | undefined): RequestIdIn {
  return value === undefined ? RequestIdIn.Absent : value === '' ? RequestIdIn.Empty : RequestIdIn.Present;
}

/** Adds the proxy's fields to `head`: `requestId` unless the client sent its own, and the forwarding fields. */
export function addProxyFields(head: RequestHead, requestId: string, incoming: RequestIdIn, remoteAddress: string): void {
  const headers = head.headers;
  if (incoming !== RequestIdIn.Present) {
    // An empty incoming value is replaced, not forwarded beside (or instead of) the id the proxy logs.
    if (incoming === RequestIdIn.Empty) headers.remove('x-request-id');
    headers.pushTrusted('x-request-id', requestId);
  }
  // Our own values (the peer address, a validated Host): no need to validate them again.
  headers.appendTrusted('x-forwarded-for', remoteAddress);
  headers.appendTrusted('x-forwarded-proto', 'http');
  const host = head.host;
  if (host !== '') headers.appendTrusted('x-forwarded-host', host);
}
