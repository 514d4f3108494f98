// A request's method, target and headers as filters and the upstream encoder see them. Header strings hold one
// character per byte (latin1), so obs-text bytes survive the trip from one socket to the other unchanged.

import type { HeaderList } from './header-list.ts';

export class RequestHead {
  /** Upper-case method token. */
  method: string;
  /** The path of the origin-form target, starting with '/'. */
  path: string;
  /** The raw query string without '?', or '' when the target had none. */
  query: string;
  /** Fields without hop-by-hop and framing fields (those are the engines' business). */
  headers: HeaderList;
  /** Request body length from Content-Length; -1 when there is none or it is chunked. */
  contentLength: number;
  /** True when the body arrives chunked (length unknown until its end). */
  chunked: boolean;
  /** The Upgrade protocol to pass on (engines set it only for allowed protocols); '' for none. */
  upgrade = '';
  /** The client sent `Expect: 100-continue` and waits for the proxy's go-ahead before sending the body. */
  expectContinue = false;

  constructor(method: string, path: string, query: string, headers: HeaderList, contentLength: number, chunked: boolean) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.headers = headers;
    this.contentLength = contentLength;
    this.chunked = chunked;
  }

  /** The request-target in origin form. */
  get target(): string {
    return this.query === '' ? this.path : `${this.path}?${this.query}`;
  }

  get hasBody(): boolean {
    return this.chunked || this.contentLength > 0;
  }

  /** The Host header (its first value), or '' when absent. */
  get host(): string {
    return this.headers.get('host') ?? '';
  }
}
