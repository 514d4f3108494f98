// Checks, before workers bind with SO_REUSEPORT, that a listen address is free (an exclusive bind), and turns
// port 0 into a concrete free port so every worker binds the same one. That port stays bound (SO_REUSEPORT, as the
// workers bind it) until the workers hold it: released at once, any outgoing connection on this host could take it
// as its ephemeral port first, and the workers would find it in use. Nobody knows the port before it is reported,
// so the held socket gets no connections.

import net from 'node:net';
import { listenFailed } from './errors.ts';

/** Binds a throwaway server for `listener`; a failure names the listener and the address. */
function bind(listener: string, address: string, port: number, options: net.ListenOptions): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(listenFailed(listener, address, port, err.code === 'EADDRINUSE' ? 'in use' : (err.code ?? 'error')));
    });
    server.listen({ ...options, host: address, port }, () => resolve(server));
  });
}

const boundPort = (server: net.Server): number => (server.address() as net.AddressInfo).port;

export async function probePort(listener: string, address: string, port: number): Promise<number> {
  const server = await bind(listener, address, port, { exclusive: true });
  const bound = boundPort(server);
  await new Promise((resolve) => server.close(resolve));
  return bound;
}

/** A free port for a `port: 0` listener, kept bound until `release()`. */
export interface HeldPort {
  port: number;
  release(): void;
}

export async function holdFreePort(listener: string, address: string): Promise<HeldPort> {
  const server = await bind(listener, address, 0, { reusePort: true });
  return { port: boundPort(server), release: () => server.close() };
}
