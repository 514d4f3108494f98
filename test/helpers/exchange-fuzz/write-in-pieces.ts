// How both ends of the exchange fuzz test write: in pieces, each after a random pause, so that the proxy reads
// heads and bodies cut at random bytes and moments.

import type net from 'node:net';
import { afterRandomPause, type Random } from './random.ts';

/** Writes `bytes` cut into `sizes` (which sum to its length), then calls `done`, unless the socket is gone first. */
export function writeInPieces(socket: net.Socket, bytes: Buffer, sizes: readonly number[], r: Random, done: () => void): void {
  let at = 0;
  let i = 0;
  const step = (): void => {
    if (socket.destroyed) return;
    if (i === sizes.length) {
      done();
      return;
    }
    const n = sizes[i++] as number;
    socket.write(bytes.subarray(at, at + n));
    at += n;
    afterRandomPause(r, step);
  };
  step();
}
