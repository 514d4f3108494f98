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
  forward(handle: object, id: number, decision: number, timeoutMs: number, head: string, body: Buffer | undefined): number;
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
const ended: number[] = [];
const io = new Float64Array(3 + 2 * 256);

beforeAll(async () => {
  if (addon === null) return;
  upstream = net.createServer((s) => s.on('data', () => s.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')));
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
    (kind: number) => `HTTP/1.1 ${kind === 64 ? 500 : 502} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
    () => {},
    () => {},
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
      if (path === '/plain') a.forward(handle, id, id * EXCHANGE + target, 0, 'GET /rewritten HTTP/1.1\r\nhost: x\r\n\r\n', undefined);
      else {
        const body = Buffer.alloc(5);
        expect(a.gather(handle, id, body)).toBe(1);
        expect(body.toString()).toBe('hello');
        a.forward(handle, id, id * EXCHANGE + target, 0, 'POST /b HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\n', body);
      }
    };
    expect(await exchange('GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*ok$/);
    expect(await exchange('POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello')).toMatch(/^HTTP\/1\.1 200/);
  });

  it('a call that cannot be served ends the exchange with a 500 and closes, never leaving it held', async () => {
    const a = addon as HttpAddon;
    const cases: Record<string, (id: number) => number> = {
      '/wrong-size': (id) => a.gather(handle, id, Buffer.alloc(3)),
      '/no-target': (id) => a.forward(handle, id, id * EXCHANGE + 999, 0, 'GET / HTTP/1.1\r\nhost: x\r\n\r\n', undefined),
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
    // Each ended, reported with F_INTERNAL.
    expect(ended.slice(endedBefore)).toEqual([64, 64, 64]);
  });
});
