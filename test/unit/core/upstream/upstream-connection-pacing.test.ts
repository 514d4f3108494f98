// UpstreamConnection hands a large request write to the socket a slice per turn of the event loop, so a buffered
// megabyte body never holds the worker in one writev. Real sockets on loopback: a server that collects what it is
// sent, and the connection under test.

import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamFailure } from '../../../../core/errors.ts';
import type { ResponseHead } from '../../../../core/http/response-head.ts';
import { type ConnectionOwner, UpstreamConnection, type UpstreamStream, WRITE_SLICE_BYTES } from '../../../../core/upstream/upstream-connection.ts';
import { allocBodyBuffer } from '../../../../core/util/body-buffer-pool.ts';

interface Collector {
  port: number;
  /** Every byte received, and whether the peer ended its side. */
  received(): Buffer;
  ended: Promise<void>;
  close(): void;
}

async function collector(): Promise<Collector> {
  const parts: Buffer[] = [];
  let resolveEnded: () => void = () => {};
  const ended = new Promise<void>((r) => {
    resolveEnded = r;
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolveEnded());
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(parts),
    ended,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

class Owner implements ConnectionOwner {
  connected: Promise<void>;
  released = 0;
  gone = 0;
  private resolveConnected: () => void = () => {};
  constructor() {
    this.connected = new Promise((r) => {
      this.resolveConnected = r;
    });
  }
  onConnected(): void {
    this.resolveConnected();
  }
  onConnectFailed(_c: UpstreamConnection, f: StreamFailure): void {
    throw new Error(`connect failed: ${f.detail}`);
  }
  onReleased(): void {
    this.released++;
  }
  onGone(): void {
    this.gone++;
  }
}

/** A stream that only records when the connection says it may write again. */
class Stream implements UpstreamStream {
  writableCalls = 0;
  onUpstreamWritable(): void {
    this.writableCalls++;
  }
  onUpstreamFailure(): void {}
  corkDownstream(work: { runCorked(): void }): void {
    work.runCorked();
  }
  onUpgradedEnd(): void {}
  onResponseHead(_h: ResponseHead): void {}
  onResponseBody(): void {}
  onResponseComplete(): void {}
  onInformational(): void {}
  onUpgradedData(): void {}
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function connected(): Promise<{ conn: UpstreamConnection; owner: Owner; stream: Stream; peer: Collector }> {
  const peer = await collector();
  const owner = new Owner();
  const conn = new UpstreamConnection(owner, '127.0.0.1', peer.port, 2000, 16384);
  await owner.connected;
  const stream = new Stream();
  conn.attach(stream, false);
  cleanups.push(() => {
    conn.destroy();
    peer.close();
  });
  return { conn, owner, stream, peer };
}

function body(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 11)) & 0xff;
  return b;
}

describe('UpstreamConnection write pacing', () => {
  it('writes a body over the slice size a slice per turn, in order with what follows, then tells the stream', async () => {
    const { conn, stream, peer } = await connected();
    const big = body(1024 * 1024);
    expect(conn.writeLatin1('POST / HTTP/1.1\r\n\r\n')).toBe(true);
    expect(conn.writePooled(big)).toBe(false);
    // Behind a queued write, a small one queues too: bytes keep their order.
    expect(conn.write(Buffer.from('trailer'))).toBe(false);
    // Nothing of the body is handed to the socket in the turn that wrote it.
    expect(conn.socket.bytesWritten).toBeLessThanOrEqual('POST / HTTP/1.1\r\n\r\n'.length);
    let turns = 0;
    let largestStep = 0;
    let before = conn.socket.bytesWritten;
    while (stream.writableCalls === 0 && turns < 1000) {
      await turn();
      turns++;
      largestStep = Math.max(largestStep, conn.socket.bytesWritten - before);
      before = conn.socket.bytesWritten;
    }
    expect(stream.writableCalls).toBe(1);
    expect(turns).toBeGreaterThanOrEqual(Math.ceil(big.length / WRITE_SLICE_BYTES));
    expect(largestStep).toBeLessThanOrEqual(WRITE_SLICE_BYTES + 'trailer'.length);
    const expected = Buffer.concat([Buffer.from('POST / HTTP/1.1\r\n\r\n'), big, Buffer.from('trailer')]);
    await expect.poll(() => peer.received().length).toBe(expected.length);
    expect(sha(peer.received())).toBe(sha(expected));
    // Once the queue is written, writes go straight to the socket again.
    expect(conn.write(Buffer.from('x'))).toBe(true);
  });

  it('gives a pooled body back once its last slice is written', async () => {
    const { conn, stream, peer } = await connected();
    const pooled = allocBodyBuffer(512 * 1024) as Buffer;
    pooled.set(body(pooled.length));
    const digest = sha(pooled);
    conn.writePooled(pooled);
    while (stream.writableCalls === 0) await turn();
    await expect.poll(() => peer.received().length).toBe(pooled.length);
    expect(sha(peer.received())).toBe(digest);
    // The write callbacks have run: the same memory comes back from the pool.
    await expect
      .poll(() => {
        const again = allocBodyBuffer(512 * 1024) as Buffer;
        return again.buffer === pooled.buffer;
      })
      .toBe(true);
  });

  it('ends its side only after the queued bytes (a tunnel closed by the client)', async () => {
    const { conn, peer } = await connected();
    const big = body(600 * 1024);
    conn.write(big);
    conn.endWriting();
    await peer.ended;
    expect(sha(peer.received())).toBe(sha(big));
  });

  it('is not reused when released with bytes still queued, and drops them when destroyed', async () => {
    const { conn, owner, peer } = await connected();
    const pooled = allocBodyBuffer(1024 * 1024) as Buffer;
    conn.writePooled(pooled);
    await turn();
    // The response could have completed early (the upstream answered before reading the body).
    conn.release(true);
    expect(owner.released).toBe(0);
    expect(owner.gone).toBe(1);
    expect(conn.isClosed).toBe(true);
    for (let i = 0; i < 20; i++) await turn();
    expect(peer.received().length).toBeLessThan(pooled.length);
    // The queued chunk went back to the pool when the connection dropped it.
    const again = allocBodyBuffer(1024 * 1024) as Buffer;
    expect(again.buffer).toBe(pooled.buffer);
  });
});
