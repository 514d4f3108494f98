// Runs the request parser over bytes and records every request it reported, for unit tests.

import { type ParsedRequest, RequestParser, type RequestParserHandler } from '../../core/http/request-parser.ts';

export interface ParsedOutcome {
  requests: {
    method: string;
    target: string;
    minor: number;
    host: string;
    fields: [string, string][];
    body: string;
    keepAlive: boolean;
    chunked: boolean;
    /** The Content-Length the head gave, or -1. */
    contentLength: number;
    expectContinue: boolean;
    upgrade: string;
  }[];
  /** Status and detail of the rejection, or null. */
  error: { status: number; detail: string } | null;
  /** True when the last request's body was complete. */
  complete: boolean;
}

export const LIMITS = { maxHeadBytes: 16 * 1024, maxUriBytes: 8 * 1024, maxFields: 100 };

export function parseRequests(parts: Buffer[], limits = LIMITS): ParsedOutcome {
  const out: ParsedOutcome = { requests: [], error: null, complete: false };
  let body: Buffer[] = [];
  const handler: RequestParserHandler = {
    onRequestHead(r: ParsedRequest) {
      const fields: [string, string][] = [];
      for (let i = 0; i < r.fieldCount; i++) fields.push([r.name(i), r.value(i)]);
      out.requests.push({
        method: r.method,
        target: r.target,
        minor: r.minor,
        host: r.host,
        fields,
        body: '',
        keepAlive: r.keepAlive,
        chunked: r.chunked,
        contentLength: r.contentLength,
        expectContinue: r.expectContinue,
        upgrade: r.upgrade,
      });
      out.complete = false;
      body = [];
    },
    onRequestBody(chunk) {
      body.push(Buffer.from(chunk));
    },
    onRequestComplete() {
      const last = out.requests.at(-1);
      if (last) last.body = Buffer.concat(body).toString('latin1');
      out.complete = true;
    },
  };
  const parser = new RequestParser(handler, limits);
  for (const p of parts) {
    const e = parser.execute(p);
    if (e !== null) {
      out.error = e;
      break;
    }
  }
  return out;
}
