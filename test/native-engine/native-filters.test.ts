// Routes whose filters are request-side only run on the native engine (core/http/native-filtered.ts with
// native/h1-park.c): C holds the exchange while JavaScript runs the chain, gathers a body a filter wants whole
// into pooled memory, then forwards the request with the head the filters left, or writes a filter's reply. The
// connection never goes to the net engine. A chunked body for a filter that reads bodies still does (and so do
// response-side hooks other than a synchronous onResponse: native-response-filters.test.ts).

import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { nativeCounted, type StreamStats, streamStatsUntil } from '../helpers/admin.ts';
import { echoProxy } from '../helpers/echo-proxy.ts';
import { json, request } from '../helpers/http-client.ts';
import { closeAfter, rawExchange, statusOf } from '../helpers/raw-client.ts';
import type { EchoReply } from '../helpers/upstreams.ts';

const FIXTURES = new URL('../fixtures/filters/', import.meta.url).pathname;
const BUILT_IN = new URL('../../filters/', import.meta.url).pathname;
const FILTERS = ['stamp', 'gate', 'scan', 'upper', 'cors'];
const BODY_TIMEOUT_MS = 400;
const SCAN_LIMIT = 1024 * 1024;

/** A route on `prefix` where only the filters named run. */
function route(prefix: string, ...on: string[]): string {
  const off = FILTERS.filter((f) => !on.includes(f)).map((f) => `${f}: { disabled: true }`);
  return `      - { match: { path: { prefix: ${prefix} } }, cluster: echo, filters: { ${off.join(', ')} } }`;
}

const setup = echoProxy(`
workers: 1
listeners:
  - name: edge
    address: 127.0.0.1
    port: 0
    engine: native
    timeouts: { bodyMs: ${BODY_TIMEOUT_MS} }
    filters:
      - { name: stamp, module: ${BUILT_IN}headers.ts, config: { request: { set: { x-via: "%route%" } } } }
      - { name: gate, module: ${FIXTURES}async-gate.ts }
      - { name: scan, module: ${BUILT_IN}body-scan.ts, config: { patterns: ["EVIL[0-9]+"], maxBytes: ${SCAN_LIMIT} } }
      - { name: upper, module: ${FIXTURES}whole-upper.ts }
      - { name: cors, module: ${BUILT_IN}cors.ts, config: { allowOrigins: ["https://app.example.com"] } }
    routes:
${route('/stamp', 'stamp')}
${route('/gate', 'gate')}
${route('/scan', 'scan')}
${route('/upper', 'upper')}
${route('/cors', 'cors')}
${route('/', 'stamp')}`);
let port = 0;
beforeAll(() => {
  port = setup.port;
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const statsUntil = (check: (s: StreamStats) => boolean) => streamStatsUntil(setup.proxy.adminPort, check);

/** A body whose every byte depends on its place (and never spells a pattern). */
function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 0x61 + ((i * 7 + (i >> 9)) % 26);
  return b;
}

const counted = (n: number, fn: () => Promise<void>) => nativeCounted(setup.proxy.adminPort, n, fn);

describe('request-side filters on the native engine', () => {
  it('a head edit and the forwarded fields, as the net engine sends them, without a handoff', async () => {
    let e: EchoReply | undefined;
    const c = await counted(1, async () => {
      e = json<EchoReply>(await request({ port, path: '/stamp/x?q=1', headers: { host: 'svc.local' } }));
    });
    expect(c).toEqual({ native: 1, handoffs: 0 });
    expect(e?.url).toBe('/stamp/x?q=1');
    expect(e?.headers['x-via']).toBe('edge/0');
    expect(e?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(e?.headers['x-forwarded-proto']).toBe('http');
    expect(e?.headers['x-forwarded-host']).toBe('svc.local');
    expect(e?.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    // The client's own id goes on unchanged.
    const own = json<EchoReply>(await request({ port, path: '/stamp/y', headers: { 'x-request-id': 'abc-123' } }));
    expect(own.headers['x-request-id']).toBe('abc-123');
  });

  it("an asynchronous filter's reply, throw and rejection, each answered in order on one pipelined connection", async () => {
    const req = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
    let r = { data: '', closed: false, error: null as string | null };
    const c = await counted(4, async () => {
      r = await rawExchange(
        port,
        req('/gate/deny', 'x-deny: 1\r\n') + req('/gate/throw', 'x-throw: 1\r\n') + req('/gate/reject', 'x-reject: 1\r\n') + req('/gate/ok'),
        800,
      );
    });
    expect(c).toEqual({ native: 4, handoffs: 0 });
    const statuses = [...r.data.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
    expect(statuses).toEqual([403, 500, 500, 200]);
    expect(r.data).toContain('x-mantou-local-reply: gate');
    expect(r.data).toContain('denied by gate');
    expect(r.data).toContain('"url":"/gate/ok"');
    expect(r.closed).toBe(false);
    const s = await statsUntil((x) => x.inflight === 0);
    expect(s.inflight).toBe(0);
  });

  it('body-scan: a megabyte upload is gathered natively, scanned in the pool, and forwarded byte for byte', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const clean = patterned(SCAN_LIMIT);
      const evil = patterned(300_000);
      evil.write('xxEVIL42xx', 250_000, 'latin1');
      const results: { status: number; e?: EchoReply; who?: string }[] = [];
      const c = await counted(3, async () => {
        for (const body of [clean, evil, patterned(10)]) {
          const res = await request({ port, method: 'POST', path: '/scan/up', body, agent });
          results.push({ status: res.status, e: res.status === 200 ? json<EchoReply>(res) : undefined, who: res.headers['x-mantou-local-reply'] as string });
        }
      });
      expect(c).toEqual({ native: 3, handoffs: 0 });
      expect(results.map((r) => r.status)).toEqual([200, 403, 200]);
      expect(results[0]?.e?.bodyBytes).toBe(clean.length);
      expect(results[0]?.e?.bodySha256).toBe(sha256(clean));
      expect(results[0]?.e?.headers['content-length']).toBe(String(clean.length));
      expect(results[1]?.who).toBe('scan');
      expect(results[2]?.e?.bodyBytes).toBe(10);
    } finally {
      agent.destroy();
    }
  });

  it('a body over the filter’s limit gets 413 naming it, and the connection closes (the body is not read)', async () => {
    const big = patterned(SCAN_LIMIT + 1);
    const head = `POST /scan/big HTTP/1.1\r\nHost: a\r\nContent-Length: ${big.length}\r\n\r\n`;
    const r = await closeAfter(port, [head, big.subarray(0, 1000)]);
    expect(statusOf(r.data)).toBe(413);
    expect(r.data).toContain('x-mantou-local-reply: scan');
    expect(r.data.toLowerCase()).toContain('connection: close');
  });

  it('a body a filter replaces goes upstream framed by its new length', async () => {
    const body = patterned(200_000);
    const e = json<EchoReply>(await request({ port, method: 'PUT', path: '/upper/x', body }));
    const upper = Buffer.from(body.toString('latin1').toUpperCase(), 'latin1');
    expect(e.bodyBytes).toBe(upper.length);
    expect(e.bodySha256).toBe(sha256(upper));
    const stopped = await request({ port, method: 'POST', path: '/upper/x', body: Buffer.from('please STOP') });
    expect(stopped.status).toBe(422);
  });

  it('a request pipelined behind a gathered body is served after it, in order', async () => {
    const body = patterned(70_000);
    const bytes = Buffer.concat([
      Buffer.from(`POST /scan/first HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`),
      body,
      Buffer.from('GET /stamp/second HTTP/1.1\r\nHost: a\r\n\r\n'),
    ]);
    const r = await rawExchange(port, bytes, 800);
    expect([...r.data.matchAll(/"url":"([^"]+)"/g)].map((m) => m[1])).toEqual(['/scan/first', '/stamp/second']);
    expect(r.data).toContain(`"bodyBytes":${body.length}`);
  });

  it('Expect: 100-continue is answered before the body is gathered', async () => {
    const body = patterned(5000);
    const got = await new Promise<string>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let data = '';
      let sent = false;
      s.on('data', (d: Buffer) => {
        data += d.toString('latin1');
        if (!sent && data.includes('100 Continue\r\n\r\n')) {
          sent = true;
          s.write(body);
        }
        if (data.includes('"bodyBytes"')) {
          s.destroy();
          resolve(data);
        }
      });
      s.on('error', reject);
      s.write(`POST /scan/expect HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
      setTimeout(() => {
        s.destroy();
        reject(new Error(`no answer: ${data}`));
      }, 3000);
    });
    expect(got.startsWith('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200')).toBe(true);
    expect(got).toContain('"bodyBytes":5000');
  });

  it('a client that stalls mid-body gets 408; one that leaves mid-body is let go; nothing stays in flight', async () => {
    const head = 'POST /scan/stall HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n';
    const stalled = await closeAfter(port, [head, 'x'.repeat(1000)]);
    expect(statusOf(stalled.data)).toBe(408);
    expect(stalled.closedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    await new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(head + 'y'.repeat(30_000));
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 50);
      });
    });
    const s = await statsUntil((x) => x.inflight === 0);
    expect(s.inflight).toBe(0);
    const after = await request({ port, path: '/stamp/after' });
    expect(after.status).toBe(200);
  });

  it('a client that leaves while its filter is still deciding: the late verdict goes nowhere, nothing stays in flight', async () => {
    // async-gate answers after 20 ms; the client is gone after 5.
    for (const extra of ['', 'x-deny: 1\r\n', 'x-reject: 1\r\n']) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write(`GET /gate/gone HTTP/1.1\r\nHost: a\r\n${extra}\r\n`);
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 5);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    const s = await statsUntil((x) => x.inflight === 0);
    expect(s.inflight).toBe(0);
    // The ids those exchanges held are free again, and the next requests are answered as usual.
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request({ port, path: '/gate/next' })).status);
    expect(statuses).toEqual([200, 200, 200]);
  });

  it('stays with the net engine where it must (a chunked body for a body filter); cors, synchronous on responses, does not', async () => {
    const c = await counted(2, async () => {
      const cors = await request({ port, path: '/cors/x', headers: { origin: 'https://app.example.com' } });
      expect(cors.headers['access-control-allow-origin']).toBe('https://app.example.com');
      const chunked = await request({ port, method: 'POST', path: '/scan/chunked', body: [Buffer.from('abc'), Buffer.from('EVIL7')] });
      expect(chunked.status).toBe(403);
    });
    expect(c).toEqual({ native: 1, handoffs: 1 });
  });
});
