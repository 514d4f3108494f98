// The usual integration setup: a real echo upstream and the real proxy in front of it, started before the file's
// tests and stopped after them. `listeners` is the YAML of the listeners (the `echo` cluster is added).

import { afterAll, beforeAll } from 'vitest';
import { type ProxyProcess, startProxy } from './proxy-process.ts';
import { type Server, startEchoServer } from './upstreams.ts';

export interface EchoProxy {
  readonly echo: Server;
  readonly proxy: ProxyProcess;
  /** The `edge` listener's port. */
  readonly port: number;
}

export function echoProxy(listeners: string, env: NodeJS.ProcessEnv = {}): EchoProxy {
  const setup = { echo: null as Server | null, proxy: null as ProxyProcess | null, port: 0 };
  beforeAll(async () => {
    setup.echo = await startEchoServer();
    setup.proxy = await startProxy(`${listeners}\nclusters:\n  - name: echo\n    endpoints: [{ address: 127.0.0.1, port: ${setup.echo.port} }]\n`, env);
    setup.port = setup.proxy.port('edge');
  });
  afterAll(async () => {
    await setup.proxy?.stop();
    await setup.echo?.close();
  });
  return {
    get echo() {
      return setup.echo as Server;
    },
    get proxy() {
      return setup.proxy as ProxyProcess;
    },
    get port() {
      return setup.port;
    },
  };
}
