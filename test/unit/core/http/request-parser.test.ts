import { describe, expect, it } from 'vitest';
import { LIMITS, parseRequests } from '../../../helpers/collect-request.ts';
import { b } from '../../../helpers/collect-response.ts';
import { REJECTED_REQUESTS } from '../../../helpers/rejected-requests.ts';

const one = (raw: string) => parseRequests([b(raw)]);

describe('RequestParser accepts what RFC 9112 allows', () => {
  it('parses a GET with fields as offsets made into strings on demand (§3, §5)', () => {
    const r = one('GET /a?b=1 HTTP/1.1\r\nHost: example.com\r\nX-A:  v  \r\n\r\n');
    expect(r.error).toBeNull();
    expect(r.requests[0]).toMatchObject({ method: 'GET', target: '/a?b=1', minor: 1, host: 'example.com', keepAlive: true });
    expect(r.requests[0]?.fields).toEqual([
      ['host', 'example.com'],
      ['x-a', 'v'],
    ]);
    expect(r.complete).toBe(true);
  });

  it('accepts HTTP/1.0 without Host, keep-alive only when asked for (§9.3)', () => {
    expect(one('GET / HTTP/1.0\r\n\r\n').requests[0]).toMatchObject({ minor: 0, keepAlive: false });
    expect(one('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n').requests[0]?.keepAlive).toBe(true);
  });

  it('takes the authority from an absolute-form target over a disagreeing Host (§3.2.2)', () => {
    expect(one('GET http://Target.example:8080/p HTTP/1.1\r\nHost: other.example\r\n\r\n').requests[0]).toMatchObject({
      target: 'http://Target.example:8080/p',
      host: 'target.example:8080',
    });
  });

  it('accepts authority-form for CONNECT and asterisk-form for OPTIONS (§3.2.3, §3.2.4)', () => {
    expect(one('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n').requests[0]?.host).toBe('example.com:443');
    expect(one('OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n').error).toBeNull();
  });

  it('reads Content-Length bodies and chunked bodies with extensions and trailers (§6.2, §7.1)', () => {
    expect(one('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello').requests[0]?.body).toBe('hello');
    const c = one('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n');
    expect(c.requests[0]).toMatchObject({ chunked: true, body: 'abcde' });
    expect(c.requests[0]?.fields.map(([n]) => n)).not.toContain('t');
  });

  it('keeps obs-text bytes in values byte for byte, even at the end (§5.5)', () => {
    expect(one('GET / HTTP/1.1\r\nHost: a\r\nX-N: caf\xe9\r\n\r\n').requests[0]?.fields[1]).toEqual(['x-n', 'caf\xe9']);
  });

  it('parses pipelined requests in order', () => {
    const r = one('GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET /3 HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(r.requests.map((x) => x.target)).toEqual(['/1', '/2', '/3']);
    expect(r.requests[1]?.body).toBe('ok');
  });

  it('notes Expect: 100-continue and a requested upgrade', () => {
    expect(one('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').requests[0]?.upgrade).toBe('websocket');
    expect(one('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n').requests[0]?.upgrade).toBe('');
    expect(one('POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx').requests[0]?.expectContinue).toBe(true);
  });
});

describe('RequestParser rejects what a proxy must, with the right status', () => {
  const cases = REJECTED_REQUESTS;
  for (const [name, raw, status] of cases) {
    it(`answers ${status} to ${name}`, () => {
      expect(one(raw).error?.status).toBe(status);
    });
  }

  it('answers 414 to a target over the URI limit and 431 over the head or field-count limits', () => {
    expect(one(`GET /${'a'.repeat(LIMITS.maxUriBytes + 1)} HTTP/1.1\r\nHost: a\r\n\r\n`).error?.status).toBe(414);
    expect(parseRequests([b(`GET /${'a'.repeat(20_000)}`)]).error?.status).toBe(414);
    expect(one(`GET / HTTP/1.1\r\nHost: a\r\nX: ${'v'.repeat(17_000)}\r\n\r\n`).error?.status).toBe(431);
    expect(one(`GET / HTTP/1.1\r\nHost: a\r\n${'X: y\r\n'.repeat(101)}\r\n`).error?.status).toBe(431);
  });
});

describe('RequestParser is split-invariant', () => {
  const corpus = [
    'GET /1 HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n',
    'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
    'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY',
  ];
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (const [i, raw] of corpus.entries()) {
    it(`gives the same result for 200 random splits of corpus[${i}]`, () => {
      const whole = parseRequests([b(raw)]);
      for (let round = 0; round < 200; round++) {
        const parts: Buffer[] = [];
        for (let pos = 0; pos < raw.length; ) {
          const n = 1 + Math.floor(random() * Math.min(9, raw.length - pos));
          parts.push(b(raw.slice(pos, pos + n)));
          pos += n;
        }
        expect(parseRequests(parts)).toEqual(whole);
      }
    });
  }
});
