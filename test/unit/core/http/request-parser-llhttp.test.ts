// Differential test against Node's own llhttp in request mode: where Mantou accepts, llhttp must accept with the
// same method, target, fields and body; where llhttp rejects, Mantou must reject. Mantou may be stricter
// (TE other than chunked, TE in HTTP/1.0, a missing Host), never looser.

import { describe, expect, it } from 'vitest';
import { parseRequests } from '../../../helpers/collect-request.ts';
import { b } from '../../../helpers/collect-response.ts';
import { HTTPParser, llhttpMethods as methods } from '../../../helpers/llhttp.ts';

interface Seen {
  method: string;
  target: string;
  fields: [string, string][];
  body: string;
}

function llhttp(raw: string): { ok: boolean; requests: Seen[] } {
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {});
  const requests: Seen[] = [];
  let body = '';
  p[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[], method: number, url: string) => {
    const fields: [string, string][] = [];
    for (let i = 0; i < headers.length; i += 2) fields.push([(headers[i] as string).toLowerCase(), headers[i + 1] as string]);
    requests.push({ method: methods[method] as string, target: url, fields, body: '' });
    body = '';
    return 0;
  };
  p[HTTPParser.kOnBody] = (chunk: Buffer) => {
    body += chunk.toString('latin1');
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    const last = requests.at(-1);
    if (last) last.body = body;
  };
  const r = p.execute(b(raw));
  return { ok: !(r instanceof Error), requests };
}

function mantou(raw: string): { ok: boolean; requests: Seen[] } {
  const r = parseRequests([b(raw)]);
  return { ok: r.error === null && r.complete, requests: r.requests.map(({ method, target, fields, body }) => ({ method, target, fields, body })) };
}

const corpus = [
  'GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n',
  'POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello',
  'POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;x=1\r\nhi\r\n0\r\nT: 1\r\n\r\n',
  'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n',
  'GET / HTTP/1.0\r\n\r\n',
  'DELETE /r HTTP/1.1\r\nHost: a\r\nX-Trailing-Space: v   \r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx',
  'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n0\r\n\r\n',
  'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n',
  'GET / HTTP/1.1\nHost: a\n\n',
  'GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n',
  'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
  'G@T / HTTP/1.1\r\nHost: a\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
];

describe('RequestParser agrees with llhttp', () => {
  for (const [i, raw] of corpus.entries()) {
    it(`case ${i}: never looser than llhttp, identical when both accept`, () => {
      const ours = mantou(raw);
      const theirs = llhttp(raw);
      if (!theirs.ok) expect(ours.ok).toBe(false);
      if (ours.ok) {
        expect(theirs.ok).toBe(true);
        expect(ours.requests).toEqual(theirs.requests);
      }
    });
  }
});
