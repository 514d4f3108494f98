// Encodes a request head once into one Buffer for the upstream socket, with the body framing the proxy chose,
// and frames chunked request bodies. Header strings are latin1 (one char per byte) by the RequestHead contract.

import type { RequestHead } from '../http/request-head.ts';

/** The head as a latin1 string: a socket writes it without an intermediate Buffer (one char per byte). */
export function requestHeadText(head: RequestHead): string {
  let s = `${head.method} ${head.target} HTTP/1.1\r\n`;
  const headers = head.headers;
  // Fields still as received (the net engine, nothing changed them) go out as the client's own lines.
  const received = headers.wireLines;
  if (received !== null) s += received;
  const e = received !== null ? headers.addedEntries : headers.entries;
  for (let i = 0; i < e.length; i += 2) s += `${e[i]}: ${e[i + 1]}\r\n`;
  // An upgrade (WebSocket) is the one hop-by-hop exchange a proxy passes on: the engine allowed it.
  if (head.upgrade !== '') s += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
  if (head.chunked) s += 'transfer-encoding: chunked\r\n\r\n';
  else if (head.contentLength >= 0 && (head.contentLength > 0 || methodExpectsBody(head.method))) s += `content-length: ${head.contentLength}\r\n\r\n`;
  else s += '\r\n';
  return s;
}

/** RFC 9110 §8.6: a user agent sends Content-Length: 0 for methods that define a body even when it is empty. */
function methodExpectsBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}

/** `<hex size>\r\n`: the line in front of one chunk's data. */
export function encodeChunkHeader(size: number): Buffer {
  return Buffer.from(`${size.toString(16)}\r\n`, 'latin1');
}

export const CHUNK_TRAILER_CRLF = Buffer.from('\r\n');
export const LAST_CHUNK = Buffer.from('0\r\n\r\n');
