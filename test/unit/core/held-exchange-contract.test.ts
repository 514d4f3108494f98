// The addon's side of held exchanges (native/h1-park.c), driven directly on this test's own loop with a real client
// and a real upstream: what JavaScript may ask of a held exchange, and what happens when it asks what cannot be
// (a body of the wrong size, a target that does not exist, a reply that is not one): the client gets a 500 and the
// connection closes, instead of the exchange staying held for ever. Through the proxy: native-filters.test.ts.

import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../../core/native-addon.ts';

interface HttpAddon {
  listen(...args: unknown[]): { handle: object; port: number };
  configure(...args: unknown[]): void;
  addTarget(handle: object, ip: string, port: number, ...limits: number[]): number;
  gather(handle: object, id: number, body: Buffer): number;
  forward(handle: object, id: number, decision: number, timeoutMs: number, head: string, body: Buffer | undefined, hookResponse: boolean): number;
  respond(handle: object, id: number, response: string, close: boolean): number;
  close(handle: object): void;
}

const addon = loadNativeAddon<{ http: HttpAddon }>().addon?.http ?? null;
const HELD = 0xffff;
const EXCHANGE = 2 ** 16;

let upstream: net.Server;
let handle: object;
let port = 0;
let target = 0;
/** What the test does with each held exchange, by the path of its request. */
let onHeld: (id: number, path: string) => void = () => {};
/** What the response hook answers (forward(..., hookResponse)), given the head the addon passed, and what it got. */
let onResponse: (id: number, head: string, close: number) => unknown = () => undefined;
const hooked: { id: number; head: string; close: number }[] = [];
/** The exchange ids failure() was given. */
const failedIds: number[] = [];
const ended: number[] = [];
// H1_IO_LENGTH (native/h1.h); io[H1_IO_QUIET_SLOT] stays 0, so every end is reported through done().
const io = new Float64Array(5 + 2 * 256);

beforeAll(async () => {
  if (addon === null) return;
  // A request for /eof gets a close-delimited body (no length: it ends with the connection); any other, "ok".
  upstream = net.createServer((s) =>
    s.on('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('GET /eof ')) s.end('HTTP/1.1 200 OK\r\n\r\nuntil close');
      else s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
    }),
  );
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  let nextId = 1;
  const r = addon.listen(
    '127.0.0.1',
    0,
    true,
    io,
    (_method: string, path: string) => {
      const id = nextId++;
      setImmediate(() => onHeld(id, path));
      return id * EXCHANGE + HELD;
    },
    (count: number) => {
      for (let i = 0; i < count; i++) ended.push(io[2 + 2 * i] as number);
    },
    (kind: number, _rid: string, _head: number, _close: number, id: number) => {
      failedIds.push(id);
      return `HTTP/1.1 ${kind === 64 ? 500 : 502} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`;
    },
    () => {},
    () => {},
    (id: number, head: string, close: number) => {
      hooked.push({ id, head, close });
      return onResponse(id, head, close);
    },
  );
  handle = r.handle;
  port = r.port;
  addon.configure(handle, 5000, 5000, true, 8192, 8192, 100, 5000, true, false);
  target = addon.addTarget(handle, '127.0.0.1', (upstream.address() as net.AddressInfo).port, 1000, 5000, 8, 8, 8192);
});

afterAll(async () => {
  if (addon === null) return;
  addon.close(handle);
  await new Promise((r) => upstream.close(r));
});

/** Sends one request; everything the proxy writes back until it closes (or 1 s passes). */
function exchange(request: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve(data);
    };
    const timer = setTimeout(done, 1000);
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
    });
    s.on('close', done);
    s.on('error', done);
    s.write(request);
  });
}

describe.skipIf(addon === null)('held exchanges: the addon’s contract', () => {
  it('forwards with the head JavaScript wrote, and gathers a body into its memory first', async () => {
    const a = addon as HttpAddon;
    onHeld = (id, path) => {
      if (path === '/plain') a.forward(handle, id, id * EXCHANGE + target, 0, 'GET /rewritten HTTP/1.1\r\nhost: x\r\n\r\n', undefined, false);
      else {
        const body = Buffer.alloc(5);
        expect(a.gather(handle, id, body)).toBe(1);
        expect(body.toString()).toBe('hello');
        a.forward(handle, id, id * EXCHANGE + target, 0, 'POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n', body, false);
      }
    };
    expect(await exchange('GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*ok$/);
    expect(await exchange('POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')).toMatch(/^HTTP\/1\.1 200/);
  });

  it('a call that cannot be served ends the exchange with a 500 and closes, never leaving it held', async () => {
    const a = addon as HttpAddon;
    const cases: Record<string, (id: number) => number> = {
      '/wrong-size': (id) => a.gather(handle, id, Buffer.alloc(3)),
      '/no-target': (id) => a.forward(handle, id, id * EXCHANGE + 999, 0, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n', undefined, false),
      '/not-a-reply': (id) => a.respond(handle, id, 'garbage', false),
    };
    const results: number[] = [];
    onHeld = (id, path) => {
      results.push((cases[path] as (id: number) => number)(id));
      // Asked again: the exchange is gone.
      results.push(a.respond(handle, id, 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', false));
    };
    const endedBefore = ended.length;
    for (const path of Object.keys(cases)) {
      const got = await exchange(`POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello`);
      expect(got.startsWith('HTTP/1.1 500')).toBe(true);
    }
    expect(results).toEqual([-1, -1, -1, -1, -1, -1]);
    await new Promise((r) => setTimeout(r, 50));
    // Each ended, reported with F_INTERNAL and the 500 sent (failure + 256·status).
    expect(ended.slice(endedBefore)).toEqual([64 + 256 * 500, 64 + 256 * 500, 64 + 256 * 500]);
  });

  it('a held request without a body is read on: a client that leaves ends it (F_DOWNSTREAM_ABORTED, no status)', async () => {
    const a = addon as HttpAddon;
    const heldIds: number[] = [];
    onHeld = (id) => heldIds.push(id);
    const endedBefore = ended.length;
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    // The request, then the client's FIN, while the exchange is held.
    s.end('GET /leaving HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let i = 0; i < 100 && ended.length === endedBefore; i++) await new Promise((r) => setTimeout(r, 10));
    expect(heldIds.length).toBe(1);
    expect(ended.slice(endedBefore)).toEqual([9]);
    // Gone: what JavaScript asks of it now is refused.
    expect(a.respond(handle, heldIds[0] as number, 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n', false)).toBe(-1);
    s.destroy();
  });

  it('a hooked response: JavaScript gets the head without framing or hop-by-hop fields, and answers the head to send, or a reply', async () => {
    const a = addon as HttpAddon;
    onHeld = (id, path) =>
      a.forward(handle, id, id * EXCHANGE + target, 0, `GET ${path === '/eof' ? '/eof' : '/'} HTTP/1.1\r\nhost: x\r\n\r\n`, undefined, true);
    // As native-filtered.ts does: the framing fields out (the addon writes its own), the edits and a Date in.
    onResponse = (_id, head) => `${head.replace('content-length: 2\r\n', '')}x-edited: yes\r\ndate: today\r\n`;
    const edited = await exchange('GET /edit HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const seen = hooked.at(-1);
    // The head as the client would get it, without the blank line: the upstream's content-length is still there.
    expect(seen?.head).toBe('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n');
    expect(seen?.close).toBe(1);
    // JavaScript's head, then the framing the addon adds (the upstream's length, connection: close), then the body.
    expect(edited).toBe('HTTP/1.1 200 OK\r\nx-edited: yes\r\ndate: today\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    // A close-delimited body goes to the client chunked, framed by the addon after JavaScript's head.
    onResponse = (_id, head) => `${head}date: today\r\n`;
    expect(await exchange('GET /eof HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toBe(
      'HTTP/1.1 200 OK\r\ndate: today\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\nb\r\nuntil close\r\n0\r\n\r\n',
    );
    onResponse = () => 'HTTP/1.1 451 Gone\r\ncontent-length: 3\r\n\r\nno\n';
    expect(await exchange('GET /replace HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toBe('HTTP/1.1 451 Gone\r\ncontent-length: 3\r\n\r\nno\n');
    const failedBefore = failedIds.length;
    for (const answer of ['garbage', undefined, 'HTTP/1.1 2xx Bad\r\n', 'HTTP/1.1 200 no final CRLF']) {
      onResponse = () => answer;
      expect((await exchange('GET /bad-answer HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).startsWith('HTTP/1.1 500')).toBe(true);
    }
    // Each 500 came from failure(), given the hooked exchange's id (its filters see the reply too).
    expect(failedIds.slice(failedBefore).every((id) => id > 0)).toBe(true);
    expect(failedIds.length - failedBefore).toBe(4);
  });
});
