// Runs the response parser over bytes and records what it reported, for unit tests.

import type { ResponseHead } from '../../core/http/response-head.ts';
import { ResponseParser, type ResponseParserHandler } from '../../core/upstream/response-parser.ts';

export interface ParsedResponse {
  status: number;
  reason: string;
  headers: string[];
  /** The head's Content-Length, or -1 (chunked, close-delimited, or no head yet). */
  contentLength: number;
  body: string;
  complete: boolean;
  error: string | null;
  keepAlive: boolean;
  /** Statuses of interim responses offered (not 100). */
  informational: number[];
}

/** Feeds `parts` in order (then EOF when `eof`), returning the first response's outcome. */
export function parseResponse(parts: Buffer[], opts: { head?: boolean; eof?: boolean; maxHead?: number } = {}): ParsedResponse {
  const out: ParsedResponse = {
    status: 0,
    reason: '',
    headers: [],
    contentLength: -1,
    body: '',
    complete: false,
    error: null,
    keepAlive: true,
    informational: [],
  };
  const bodies: Buffer[] = [];
  const handler: ResponseParserHandler = {
    onResponseHead(h: ResponseHead) {
      out.status = h.status;
      out.reason = h.reason;
      out.headers = [...h.headers.entries];
      out.contentLength = h.contentLength;
    },
    onResponseBody(chunk: Buffer) {
      bodies.push(Buffer.from(chunk));
    },
    onResponseComplete() {
      out.complete = true;
    },
    onInformational(h: ResponseHead) {
      out.informational.push(h.status);
    },
    onUpgradedData() {},
  };
  const parser = new ResponseParser(handler, opts.maxHead ?? 65536);
  parser.reset(handler, opts.head === true);
  for (const p of parts) {
    const f = parser.execute(p);
    if (f !== null) {
      out.error = f.kind.code;
      break;
    }
  }
  if (out.error === null && opts.eof) {
    const f = parser.finish();
    if (f !== null) out.error = f.kind.code;
  }
  out.body = Buffer.concat(bodies).toString('latin1');
  out.keepAlive = parser.keepAlive;
  return out;
}

export function b(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}
