// A loopback port whose accept queue is full, so new connects hang (SYNs are dropped): the only way to get a
// real connect timeout without sending traffic off this machine. A child process listens with backlog 1 and
// blocks its event loop so it never accepts; a few filler connections fill the queue.

import { spawn } from 'node:child_process';
import net from 'node:net';

const CHILD = `
const net = require('node:net');
const s = net.createServer();
s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(String(s.address().port) + '\\n');
  // Block the event loop at once (bounded: 120 s), before it can poll again, so nothing is ever accepted. (It
  // used to block 50 ms later: on a loaded machine the fillers could arrive first, be accepted, and leave the
  // queue with room for the connect that was meant to hang.) Writes to a pipe are synchronous on Linux.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000);
});
`;

export interface Blackhole {
  port: number;
  close(): void;
}

export async function startBlackhole(): Promise<Blackhole> {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  await new Promise((r) => setTimeout(r, 200));
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  // Proof that it holds: a probe connect must not complete.
  const probe = net.connect(port, '127.0.0.1');
  probe.on('error', () => {});
  const connected = await new Promise<boolean>((resolve) => {
    probe.once('connect', () => resolve(true));
    setTimeout(() => resolve(false), 300);
  });
  probe.destroy();
  if (connected) {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
    throw new Error('blackhole: a connect completed (the accept queue is not full)');
  }
  return {
    port,
    close() {
      for (const s of fillers) s.destroy();
      child.kill('SIGKILL');
    },
  };
}
