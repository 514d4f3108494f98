// A client that writes exact bytes and records exact bytes back, for framing and rejection tests.

import net from 'node:net';

export interface RawResult {
  /** Everything received, latin1. */
  data: string;
  /** True when the server closed the connection (FIN or reset) before our idle wait ran out. */
  closed: boolean;
  error: string | null;
}

/** Sends `bytes` and collects the answer until the server closes, or until `idleMs` pass with nothing new. */
export function rawExchange(port: number, bytes: string | Buffer, idleMs = 1500): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    let error: string | null = null;
    let timer = setTimeout(done, idleMs, false);
    function done(closed: boolean) {
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closed, error });
    }
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      clearTimeout(timer);
      timer = setTimeout(done, idleMs, false);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => done(true));
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** Status code of the first response in raw bytes, or 0. */
export function statusOf(raw: string): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? Number(m[1]) : 0;
}

export interface Conversation {
  /** Everything received, latin1. */
  data: string;
  closedAfterMs: number;
}

/**
 * Connects, writes `parts` in order (bytes, or pauses in ms), and collects what comes back until the server closes
 * the connection; rejects if it has not within `limitMs`.
 */
export function closeAfter(port: number, parts: (string | Buffer | number)[], limitMs = 5000): Promise<Conversation> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const start = Date.now();
    let data = '';
    const limit = setTimeout(() => {
      socket.destroy();
      reject(new Error(`not closed within ${limitMs} ms; got: ${data.slice(0, 300)}`));
    }, limitMs);
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(limit);
      resolve({ data, closedAfterMs: Date.now() - start });
    });
    socket.once('connect', async () => {
      for (const p of parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!socket.destroyed) socket.write(p);
      }
    });
  });
}
