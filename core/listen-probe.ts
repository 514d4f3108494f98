// Checks, before workers bind with SO_REUSEPORT, that a listen address is free (an exclusive bind), and turns
// port 0 into a concrete free port so every worker binds the same one. That port stays bound (SO_REUSEPORT, as the
// workers bind it) until the workers hold it: released at once, any outgoing connection on this host could take it
// as its ephemeral port first, and the workers would find it in use. Nobody knows the port before it is reported,
// so the held socket gets no connections.

import net from 'node:net';
import { StartupError } from './errors.ts';

export function probePort(listener: string, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new StartupError(
          'listen_failed',
          `listener ${listener}: cannot listen on ${address}:${port} (${err.code === 'EADDRINUSE' ? 'in use' : (err.code ?? 'error')})`,
        ),
      );
    });
    server.listen({ host: address, port, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A free port for a `port: 0` listener, kept bound until `release()`. */
export interface HeldPort {
  port: number;
  release(): void;
}

export function holdFreePort(listener: string, address: string): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(new StartupError('listen_failed', `listener ${listener}: cannot listen on ${address}:0 (${err.code ?? 'error'})`));
    });
    server.listen({ host: address, port: 0, reusePort: true }, () => {
      resolve({ port: (server.address() as net.AddressInfo).port, release: () => server.close() });
    });
  });
}
