// Binds a net.Server the way every worker's listeners do: SO_REUSEPORT shared with the other workers (or an
// exclusive bind for single-process use), a deep accept queue, and a failure that names the listener.

import type net from 'node:net';
import { listenFailed } from '../errors.ts';

/** Resolves with the bound port (the one picked, for port 0). */
export function listenServer(server: net.Server, name: string, address: string, port: number, exclusive: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(listenFailed(name, address, port, err.code ?? err.message));
    };
    server.once('error', onError);
    server.listen({ host: address, port, reusePort: !exclusive, backlog: 4096 }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a !== null ? a.port : port);
    });
  });
}
