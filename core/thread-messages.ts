// Messages between the supervisor and the data-plane workers: msgpackr-encoded, copied to an exact-size buffer
// (pack() returns a view into msgpackr's shared scratch buffer) and transferred, never cloned. None is per request.

import type { MessagePort } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import type { GcCounters, HeapSizes } from './gc-stats.ts';
import type { StreamCounters } from './http/stream-counters.ts';
import type { TcpCounters } from './tcp/tcp-counters.ts';

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Supervisor → worker. */
export type SupervisorMessage =
  /** Run this config as generation `id` (the worker compiles it: pools, regexes and filters do not cross threads). */
  /** `filterModules`: custom filter modules (absolute path → content-hashed URL) the supervisor loaded and checked. */
  /** `sessionSlots`: each TCP listener's slot in the shared session counts. */
  | {
      t: 'generation';
      id: number;
      config: unknown;
      configFile: string;
      filterModules: Record<string, string>;
      draining: boolean;
      sessionSlots: Record<string, number>;
    }
  /** Stop accepting new connections; keep-alive responses carry Connection: close from now on. */
  | { t: 'stop-accepting' }
  /** Answer Connection: close on every response from now on (drain has started). */
  | { t: 'drain' }
  /** Close everything and exit. */
  | { t: 'shutdown' }
  /** Report your counters now (answered with a `stats` carrying the same `id`): the admin port asks on each read. */
  | { t: 'report-stats'; id: number }
  /** Test hook (MANTOU_TEST_HOOKS=1 only): throw from the event loop to exercise crash recovery. */
  | { t: 'crash' }
  /** Test hook (MANTOU_TEST_HOOKS=1 only): leak memory until the worker's heap limit is hit. */
  | { t: 'leak' };

/** A worker's HTTP counters summed over its listeners, its garbage collections, and more. */
export interface WorkerCounters extends StreamCounters, GcCounters, HeapSizes {
  /** Streams and sessions in flight. */
  inflight: number;
  /** Per TCP listener. */
  tcp: Record<string, TcpCounters>;
  /** The worker's TypeScript modules: how many the main thread stripped for it, and how many it stripped itself. */
  typeScriptModules: { byMainThread: number; local: number };
}

/** Worker → supervisor. */
export type WorkerMessage =
  | { t: 'applied'; id: number; ports: Record<string, number> }
  | { t: 'apply-failed'; id: number; error: string }
  /** No stream in flight (sent after stop-accepting, whenever the count reaches zero). */
  | { t: 'idle' }
  /** The answer to `report-stats` with that `id`. */
  | { t: 'stats'; id: number; counters: WorkerCounters }
  /** Sent just before a worker exits on its own: its stdout may not flush, but a posted message is queued at once. */
  | { t: 'exiting'; reason: string };

export function encodeMessage(m: SupervisorMessage | WorkerMessage): Uint8Array {
  const view = packr.pack(m);
  const exact = new Uint8Array(view.byteLength);
  exact.set(view);
  return exact;
}

export function decodeMessage<T extends SupervisorMessage | WorkerMessage>(data: Uint8Array): T {
  return packr.unpack(data) as T;
}

/** Posts a message with its buffer transferred (the copy is ours alone, so nothing is cloned). */
export function postMessageTo(port: Pick<MessagePort, 'postMessage'>, m: SupervisorMessage | WorkerMessage): void {
  const bytes = encodeMessage(m);
  port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
}
