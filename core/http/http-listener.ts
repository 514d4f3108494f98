// What the data plane needs of an HTTP listener, whichever engine serves it (uWebSockets.js or raw net).

import type { HttpListenerContext } from './http-stream.ts';
import { NativeHttpListener } from './native-listener.ts';
import { NetListener } from './net-listener.ts';
import { UwsListener } from './uws-listener.ts';

export interface HttpListener {
  readonly name: string;
  readonly port: number;
  listen(address: string, port: number, exclusive: boolean): Promise<number>;
  /** Points new requests at another generation's context; requests in flight keep theirs. */
  setContext(context: HttpListenerContext): void;
  stopAccepting(): void;
  close(): void;
  /** Brings counts the listener keeps outside JavaScript up to date, before they are read (the native engine's). */
  settleCounts?(): void;
}

export type HttpEngine = 'net' | 'uws' | 'native';

export function createHttpListener(engine: HttpEngine, name: string, address: string, port: number, context: HttpListenerContext): HttpListener {
  if (engine === 'net') return new NetListener(name, context);
  if (engine === 'native') return NativeHttpListener.create(name, context);
  return new UwsListener({ name, address, port }, context);
}
