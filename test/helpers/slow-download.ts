// A client that downloads one response over a raw socket, reading slowly (a pause every 4 MiB), and checks it
// strictly as it goes: the chunked framing (size lines, the CRLF after each chunk, the last chunk) and every body
// byte against the echo upstream's k % 251 pattern. Counting bytes is not enough: a chunk that loses its data
// still leaves a response of about the right size that ends with its last chunk.

import net from 'node:net';

export interface SlowDownload {
  /** Body bytes decoded. */
  bodyBytes: number;
  /** The response ended properly: the last chunk for chunked, the Content-Length for a sized body. */
  complete: boolean;
  /** The first framing or content error, or '' when there was none. */
  error: string;
  /** The response head as received (latin1, without the blank line). */
  head: string;
}

const PAUSE_EVERY = 4 << 20;
const PAUSE_MS = 25;

const State = { Head: 0, Size: 1, Data: 2, DataEnd: 3, Trailer: 4, Done: 5 } as const;
type State = (typeof State)[keyof typeof State];

export function slowDownload(port: number, path: string): Promise<SlowDownload> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`));
    let pending: Buffer = Buffer.alloc(0);
    let state: State = State.Head;
    let chunked = false;
    let headText = '';
    let left = 0;
    let body = 0;
    let received = 0;
    let mark = 0;
    let error = '';
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      s.destroy();
      resolve({ bodyBytes: body, complete: error === '' && state === State.Done, error, head: headText });
    };
    /** Records the first error and ends the download; false stops the decoding loop. */
    const fail = (why: string): false => {
      if (error === '') error = `${why} (after ${body} body bytes)`;
      finish();
      return false;
    };
    /** Checks body bytes against the pattern and counts them. */
    const take = (data: Buffer) => {
      for (let i = 0; i < data.length; i++) {
        if (data[i] !== (body + i) % 251) {
          fail(`body byte ${body + i} is ${data[i]}, not ${(body + i) % 251}`);
          return;
        }
      }
      body += data.length;
    };
    const step = (): boolean => {
      switch (state) {
        case State.Head: {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return false;
          const head = pending.subarray(0, end).toString('latin1');
          headText = head;
          if (!/^HTTP\/1\.1 200 /.test(head)) return fail(`status line ${JSON.stringify(head.split('\r\n')[0])}`);
          chunked = /\r\ntransfer-encoding: chunked/i.test(head);
          const length = /\r\ncontent-length: (\d+)/i.exec(head);
          left = length ? Number(length[1]) : -1;
          pending = pending.subarray(end + 4);
          state = chunked ? State.Size : State.Data;
          return true;
        }
        case State.Size: {
          const end = pending.indexOf('\r\n');
          if (end < 0) return false;
          const line = pending.subarray(0, end).toString('latin1');
          if (!/^[0-9a-fA-F]{1,8}$/.test(line)) return fail(`bad chunk size line ${JSON.stringify(line.slice(0, 24))}`);
          left = Number.parseInt(line, 16);
          pending = pending.subarray(end + 2);
          state = left === 0 ? State.Trailer : State.Data;
          return true;
        }
        case State.Data: {
          if (pending.length === 0) return false;
          const n = left < 0 ? pending.length : Math.min(left, pending.length);
          take(pending.subarray(0, n));
          if (settled) return false;
          pending = pending.subarray(n);
          if (left > 0) left -= n;
          if (left === 0) state = chunked ? State.DataEnd : State.Done;
          return true;
        }
        case State.DataEnd:
          if (pending.length < 2) return false;
          if (pending[0] !== 13 || pending[1] !== 10) return fail('no CRLF after chunk data');
          pending = pending.subarray(2);
          state = State.Size;
          return true;
        case State.Trailer:
          if (pending.length < 2) return false;
          if (pending[0] !== 13 || pending[1] !== 10) return fail('trailer fields after the last chunk');
          pending = pending.subarray(2);
          state = State.Done;
          return true;
        default:
          if (pending.length > 0) return fail('bytes after the end of the response');
          return false;
      }
    };
    s.on('data', (d: Buffer) => {
      received += d.length;
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      while (!settled && step()) {}
      if (state === State.Done) return finish();
      if (received - mark >= PAUSE_EVERY) {
        mark = received;
        s.pause();
        setTimeout(() => s.resume(), PAUSE_MS);
      }
    });
    s.on('error', () => finish());
    s.on('close', () => {
      // A close-delimited body (no length, not chunked) is complete when the server closes.
      if (state === State.Data && left < 0 && !chunked) state = State.Done;
      finish();
    });
  });
}
