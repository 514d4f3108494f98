// A response's status line and headers, as the upstream sent them (after parsing) and as filters see them.

import { HeaderList } from './header-list.ts';

export class ResponseHead {
  status: number;
  reason: string;
  headers: HeaderList;
  /** Body length from Content-Length; -1 when unknown (chunked or close-delimited). */
  contentLength: number;
  /** True when the message has no body by its status or request method (HEAD, 204, 304, 1xx). */
  bodyless: boolean;

  constructor(status: number, reason: string, headers: HeaderList = new HeaderList(), contentLength = -1, bodyless = false) {
    this.status = status;
    this.reason = reason;
    this.headers = headers;
    this.contentLength = contentLength;
    this.bodyless = bodyless;
  }
}
