// Read buffers for the TCP relay. With Node's `onread` a socket reads into a buffer we give it, skipping the
// stream machinery 'data' events cost (measured: user CPU per GiB relayed about halved); the relay then writes
// views of that buffer on, without copying. The catch: a write the kernel does not take whole is queued *by
// reference*, so that buffer must never be read into again. Hence:
// - an active socket reads into a buffer of its own; when a write of it is queued, the buffer goes with the write
//   and the socket gets a fresh one for its next read;
// - a socket idle since the last sweep gives its buffer back to a small pool and is parked on one shared buffer,
//   so idle sessions cost no buffer memory; a read that lands in the shared buffer is copied before it is written
//   (the shared buffer is never handed to a write) and makes the socket active again.

import type net from 'node:net';

/** One read's worth: Node's own read size. */
export const READ_BUFFER_BYTES = 64 * 1024;
/** Free private buffers kept for reuse per worker. */
const POOL_LIMIT = 64;

const PARKING = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
const pool: Buffer[] = [];

function takeBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
}

/** The part of Node's stream handle `onread` uses (stable since Node 12). */
interface ReadingHandle {
  useUserBuffer?(buf: Uint8Array): void;
}

export class SocketReadBuffer {
  private own: Buffer | null = null;
  /**
   * Where the socket's next read lands: what `next` last returned, or PARKING once parked. Node hands the read
   * callback its own record of the buffer, which a park (made behind its back) leaves stale, so this is used instead.
   */
  private current: Buffer = PARKING;
  private readSinceSweep = false;
  /** Node's `onread.buffer`: called when the socket starts and after each read, for where the next read goes. */
  readonly next = (): Buffer => {
    this.current = this.own ?? PARKING;
    return this.current;
  };

  /** The bytes of a read, ready to be written on: a view of the socket's own buffer, or a copy out of the shared one. */
  chunk(n: number): Buffer {
    this.readSinceSweep = true;
    const buf = this.current;
    const view = buf.subarray(0, n);
    if (buf !== PARKING) return view;
    this.own = takeBuffer();
    return Buffer.from(view);
  }

  /** Writes `chunk` (from chunk()) to `to`; false asks to pause this socket until `to` drains. */
  writeTo(to: net.Socket, chunk: Buffer): boolean {
    const ok = to.write(chunk);
    // Queued, not yet in the kernel: the write holds this buffer now; the next read needs another.
    if (to.writableLength !== 0 && this.own !== null && chunk.buffer === this.own.buffer) this.own = takeBuffer();
    return ok;
  }

  /** No buffer of its own: idle, parked on the shared one (or not read yet). */
  get parked(): boolean {
    return this.own === null;
  }

  /** Called by the listener's sweep: a socket that read nothing since the last one is parked. */
  sweep(socket: net.Socket): void {
    if (!this.readSinceSweep && this.own !== null) this.park(socket);
    this.readSinceSweep = false;
  }

  /** The socket is closed or parked: its buffer goes back to the pool. */
  park(socket: net.Socket | null): void {
    const own = this.own;
    if (own === null) return;
    const handle = (socket as unknown as { _handle?: ReadingHandle | null } | null)?._handle;
    if (socket !== null && !socket.destroyed) {
      // Without the handle method (never seen on Node 22) the socket simply keeps its buffer.
      if (typeof handle?.useUserBuffer !== 'function') return;
      handle.useUserBuffer(PARKING);
      this.current = PARKING;
    }
    this.own = null;
    if (pool.length < POOL_LIMIT) pool.push(own);
  }
}
