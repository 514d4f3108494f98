// ReadGate on a real loopback socket: a megabyte arriving at once is read at most READS_PER_TURN full buffers per
// turn of the event loop, and the owner's pause holds across a yield.

import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { READS_PER_TURN, ReadGate } from '../../../../core/util/read-gate.ts';

const READ_BYTES = 64 * 1024;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A server that sends `bytes` at once to its first client; the client reads with a ReadGate. */
async function pair(bytes: number, onRead: (n: number, gate: ReadGate) => void): Promise<{ socket: net.Socket; gate: ReadGate }> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.end(Buffer.alloc(bytes, 0x61));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  let gate: ReadGate | null = null;
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  const socket = net.connect({
    port,
    host: '127.0.0.1',
    onread: {
      buffer,
      callback: (n: number) => {
        onRead(n, gate as ReadGate);
        return true;
      },
    },
  });
  gate = new ReadGate(socket, READ_BYTES);
  socket.on('error', () => {});
  cleanups.push(() => {
    socket.destroy();
    server.close();
  });
  return { socket, gate };
}

describe('ReadGate', () => {
  it('lets a connection read at most READS_PER_TURN full buffers per turn of the event loop', async () => {
    let turn = 0;
    let ticking = true;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const readsPerTurn = new Map<number, number>();
    let total = 0;
    const { socket } = await pair(1024 * 1024, (n, gate) => {
      total += n;
      if (n === READ_BYTES) readsPerTurn.set(turn, (readsPerTurn.get(turn) ?? 0) + 1);
      gate.countRead(n, true);
    });
    await new Promise((r) => socket.once('end', r));
    ticking = false;
    expect(total).toBe(1024 * 1024);
    expect(Math.max(...readsPerTurn.values())).toBeLessThanOrEqual(READS_PER_TURN);
    // The megabyte took many turns, not one burst of libuv's read loop.
    expect(readsPerTurn.size).toBeGreaterThan(4);
  });

  it("keeps the owner's pause when a yield ends, and reads on after the owner resumes", async () => {
    let total = 0;
    let pausedOnce = false;
    const { socket, gate } = await pair(512 * 1024, (n, g) => {
      total += n;
      g.countRead(n, true);
      if (!pausedOnce) {
        pausedOnce = true;
        g.pause();
      }
    });
    await new Promise((r) => setTimeout(r, 100));
    // The yield after the first full read has ended since, and reading stayed paused.
    expect(gate.paused).toBe(true);
    expect(total).toBe(READ_BYTES);
    gate.resume();
    await new Promise((r) => socket.once('end', r));
    expect(total).toBe(512 * 1024);
  });
});
