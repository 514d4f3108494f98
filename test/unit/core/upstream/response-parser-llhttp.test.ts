// Differential test against Node's own llhttp parser: where Mantou accepts a response, llhttp must accept it
// with the same status, headers and body; where llhttp rejects one, Mantou must reject it too. Mantou may be
// stricter than llhttp (it is a proxy: it refuses what it cannot relay unambiguously), never looser.

import { describe, expect, it } from 'vitest';
import { b, parseResponse } from '../../../helpers/collect-response.ts';
import { HTTPParser } from '../../../helpers/llhttp.ts';

interface Oracle {
  ok: boolean;
  status: number;
  headers: string[];
  body: string;
}

function llhttp(raw: string): Oracle {
  const p = new HTTPParser();
  p.initialize(HTTPParser.RESPONSE, {});
  const out: Oracle = { ok: true, status: 0, headers: [], body: '' };
  let complete = false;
  p[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, headers: string[], _m: unknown, _u: unknown, status: number) => {
    // llhttp reports interim responses too; keep the final one.
    out.status = status;
    out.headers = headers.map((h, i) => (i % 2 === 0 ? h.toLowerCase() : h));
    out.body = '';
    return 0;
  };
  p[HTTPParser.kOnBody] = (chunk: Buffer) => {
    out.body += chunk.toString('latin1');
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (out.status >= 200) complete = true;
  };
  const r = p.execute(b(raw));
  if (r instanceof Error) return { ...out, ok: false };
  const f = p.finish();
  if (f instanceof Error || !complete) return { ...out, ok: false };
  return out;
}

function mantou(raw: string) {
  const r = parseResponse([b(raw)], { eof: true });
  return { ok: r.error === null && r.complete, status: r.status, headers: r.headers, body: r.body };
}

const handWritten = [
  'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: v\r\n\r\n',
  'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 204 No Content\r\nX: y\r\n\r\n',
  'HTTP/1.1 200 OK\r\n\r\nuntil close',
  'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\nok',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
  'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort',
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel',
  'HTTX/1.1 200 OK\r\n\r\n',
  'HTTP/1.1 20 OK\r\n\r\n',
  'HTTP/1.1 200 OK\r\nX\x01Y: z\r\nContent-Length: 0\r\n\r\n',
];

/** Valid responses built from random parts: both parsers must agree exactly on every one. */
function generated(count: number): string[] {
  let seed = 99;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const status = [200, 201, 404, 500, 302][rnd(5)] as number;
    const headers: string[] = [];
    for (let h = rnd(6); h > 0; h--) headers.push(`X-H${rnd(100)}: v${'x'.repeat(rnd(20))}`);
    const body = 'b'.repeat(rnd(200));
    if (rnd(2) === 0) {
      out.push(`HTTP/1.1 ${status} R\r\n${headers.map((h) => `${h}\r\n`).join('')}Content-Length: ${body.length}\r\n\r\n${body}`);
    } else {
      let chunks = '';
      let rest = body;
      while (rest.length > 0) {
        const n = 1 + rnd(rest.length);
        chunks += `${n.toString(16)}\r\n${rest.slice(0, n)}\r\n`;
        rest = rest.slice(n);
      }
      out.push(`HTTP/1.1 ${status} R\r\n${headers.map((h) => `${h}\r\n`).join('')}Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    }
  }
  return out;
}

describe('ResponseParser agrees with llhttp', () => {
  for (const [i, raw] of handWritten.entries()) {
    it(`hand-written case ${i}: never looser than llhttp, identical when both accept`, () => {
      const ours = mantou(raw);
      const theirs = llhttp(raw);
      if (!theirs.ok) expect(ours.ok).toBe(false);
      if (ours.ok) {
        expect(theirs.ok).toBe(true);
        expect(ours).toEqual(theirs);
      }
    });
  }

  it('agrees exactly on 300 generated valid responses', () => {
    for (const raw of generated(300)) {
      const ours = mantou(raw);
      expect(ours.ok).toBe(true);
      expect(ours).toEqual(llhttp(raw));
    }
  });
});
