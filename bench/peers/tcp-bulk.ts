// Bulk TCP peers for bench/tcp.ts, one process each (pinned with the load generator):
//   server --port P          on each connection: "U" + 8-byte size → sinks that many bytes, answers "ok" and ends;
//                            "D" + 8-byte size → sends that many bytes and ends; "E" + 8 bytes → echoes until the FIN
//   client --port P --mode up|down --mib N
//                            one session moving N MiB in that direction; prints {"mbPerS": …, "bytes": …}
//   client --port P --mode pingpong --count N
//                            one session, N sequential 64-byte round trips; prints the median and p99 in µs
// 256 KiB writes with backpressure; the bytes are a fixed pattern (the bench measures moving them, tests check them).

import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { port: { type: 'string' }, mode: { type: 'string' }, mib: { type: 'string' }, count: { type: 'string' } },
  allowPositionals: true,
});
const role = process.argv[2];
const CHUNK = Buffer.alloc(256 * 1024, 0x5a);

function send(socket: net.Socket, total: number, done: () => void): void {
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(CHUNK.length, total - sent);
      sent += n;
      if (!socket.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        socket.once('drain', pump);
        return;
      }
    }
    done();
  };
  pump();
}

if (role === 'server') {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
    s.on('error', () => {});
    let header = Buffer.alloc(0);
    let remaining = -1;
    s.on('data', (d: Buffer) => {
      if (remaining < 0) {
        header = Buffer.concat([header, d]);
        if (header.length < 9) return;
        const mode = String.fromCharCode(header[0] as number);
        const size = Number(header.readBigUInt64BE(1));
        if (mode === 'D') {
          send(s, size, () => s.end());
          return;
        }
        if (mode === 'E') {
          s.removeAllListeners('data');
          if (header.length > 9) s.write(header.subarray(9));
          s.pipe(s);
          return;
        }
        remaining = size - (header.length - 9);
      } else remaining -= d.length;
      if (remaining === 0) s.end('ok');
    });
  });
  server.listen(Number(values.port ?? 0), '127.0.0.1', () => console.log(`listening ${(server.address() as net.AddressInfo).port}`));
} else if (role === 'client' && values.mode === 'pingpong') {
  const count = Number(values.count ?? 5000);
  const message = Buffer.alloc(64, 0x61);
  const header = Buffer.alloc(9);
  header[0] = 0x45;
  const rtts: number[] = [];
  let got = 0;
  let t0 = 0;
  const c = net.connect({ port: Number(values.port), host: '127.0.0.1', noDelay: true }, () => {
    c.write(header);
    t0 = performance.now();
    c.write(message);
  });
  c.on('data', (d: Buffer) => {
    got += d.length;
    if (got < message.length) return;
    got -= message.length;
    rtts.push((performance.now() - t0) * 1000);
    if (rtts.length === count) {
      rtts.sort((a, b) => a - b);
      const at = (q: number) => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] as number;
      console.log(JSON.stringify({ p50us: at(0.5), p99us: at(0.99) }));
      c.destroy();
      return;
    }
    t0 = performance.now();
    c.write(message);
  });
} else if (role === 'client') {
  const size = Number(values.mib ?? 256) * 1024 * 1024;
  const up = values.mode !== 'down';
  const header = Buffer.alloc(9);
  header[0] = up ? 0x55 : 0x44;
  header.writeBigUInt64BE(BigInt(size), 1);
  const started = performance.now();
  let received = 0;
  const c = net.connect({ port: Number(values.port), host: '127.0.0.1', noDelay: true, allowHalfOpen: true }, () => {
    c.write(header);
    if (up) send(c, size, () => {});
  });
  c.on('data', (d: Buffer) => {
    received += d.length;
  });
  c.on('end', () => {
    const seconds = (performance.now() - started) / 1000;
    const bytes = up ? size : received;
    console.log(JSON.stringify({ mbPerS: bytes / 1e6 / seconds, bytes, ok: up ? received === 2 : received === size }));
    c.end();
  });
  c.on('error', (e) => {
    console.log(JSON.stringify({ error: e.message }));
    process.exitCode = 1;
  });
} else {
  console.error('usage: tcp-bulk.ts server --port P | client --port P --mode up|down --mib N');
  process.exit(2);
}
