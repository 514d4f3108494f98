// Requests a strict HTTP/1.1 server must refuse, with the status and the RFC 9112 section: one table for the
// parser's unit test and for the net engine's test through the real proxy. `inBody`: the head was valid and the
// error is in the body, found after the request was on its way upstream.

export const REJECTED_REQUESTS: readonly (readonly [name: string, raw: string, status: number, inBody?: boolean])[] = [
  ['an invalid method token (§3.1)', 'G(T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a request line without a target (§3)', 'GET  HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a malformed version (§2.3)', 'GET / HTTX/1.1\r\nHost: a\r\n\r\n', 400],
  ['HTTP/2.0 on an HTTP/1 connection (§2.3)', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['an invalid header name (§5.1)', 'GET / HTTP/1.1\r\nHost: a\r\nX(Y: z\r\n\r\n', 400],
  ['whitespace before the colon (§5.1)', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
  ['obs-fold (§5.2)', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n', 400],
  ['a bare LF (§2.2)', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  ['a bare CR in a value (§2.2)', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\rz\r\n\r\n', 400],
  ['a NUL in a value (§5.5)', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\0z\r\n\r\n', 400],
  ['a missing Host in HTTP/1.1 (§3.2)', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', 400],
  ['a repeated Host (§3.2)', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['an invalid Host (§3.2)', 'GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n', 400],
  ['a repeated Content-Length (§6.3)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx', 400],
  ['an invalid Content-Length (§6.3)', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n', 400],
  ['Transfer-Encoding with Content-Length (§6.1)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', 400],
  ['a transfer coding other than chunked (§6.1)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 400],
  ['Transfer-Encoding in HTTP/1.0 (§6.1)', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['a chunk-size overflow (§7.1)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', 400, true],
  ['a missing CRLF after chunk data (§7.1)', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX', 400, true],
  ['an origin-form target on CONNECT (§3.2.3)', 'CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['a relative target (§3.2)', 'GET foo HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['asterisk-form on GET (§3.2.4)', 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', 400],
];
