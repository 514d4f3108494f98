// Checks, before workers bind with SO_REUSEPORT, that a listen address is free (an exclusive bind), and turns
// port 0 into a concrete free port so every worker binds the same one.

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
