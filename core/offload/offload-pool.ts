// CPU-heavy filter work off the data-plane event loop: one piscina pool per worker thread, made on first use, so
// a regex over a megabyte never stalls the other requests of that worker. Tasks are modules (a default-exported
// function) run with their input; buffers in `transfer` move to the pool thread instead of being copied. The
// queue is bounded and every task has a deadline: a saturated or slow pool is an error value, not a pile-up.

import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Piscina } from 'piscina';
import type { OffloadTask } from './offload-thread.ts';

export const OffloadErrors = { Saturated: 'offload_saturated', Timeout: 'offload_timeout', Failed: 'offload_failed' } as const;
export type OffloadErrorCode = (typeof OffloadErrors)[keyof typeof OffloadErrors];

export class OffloadError extends Error {
  readonly code: OffloadErrorCode;
  constructor(code: OffloadErrorCode, message: string) {
    super(message);
    this.name = 'OffloadError';
    this.code = code;
  }
}

export interface OffloadOptions {
  /** Tasks waiting beyond the busy threads; past it a task fails at once as saturated. */
  maxQueue: number;
  timeoutMs: number;
}

let pool: Piscina | null = null;
/** Tasks started and not settled: running on a pool thread or waiting for one. */
let inFlight = 0;

/** Half the cores (at least one): the data-plane workers keep the rest. */
const THREADS = Math.max(1, Math.floor(availableParallelism() / 2));
const MAX_QUEUE = 64;
/**
 * Pool threads run under SCHED_IDLE (core/offload/offload-thread.ts; nice 19 through piscina without the native
 * addon): a data-plane thread that wakes takes the core from a scan at once. Measured (bench:offload, the proxy
 * and its pool on one core): the p99 of small GETs beside scanned 1 MiB uploads was 3.4–4.0 ms at nice 19 and
 * 1.8–2.1 ms under SCHED_IDLE, against 0.8 ms without uploads. Under full load a scan gets what the workers
 * leave, and may reach its timeout (503).
 */
const NICE_INCREMENT = 19;
/** JavaScript, so that the thread's TypeScript is stripped by the main thread (core/type-stripping/). */
const THREAD_ENTRY = new URL('./offload-thread-entry.js', import.meta.url).href;

function thePool(): Piscina {
  pool ??= new Piscina({
    filename: THREAD_ENTRY,
    minThreads: 1,
    maxThreads: THREADS,
    maxQueue: MAX_QUEUE,
    idleTimeout: 30_000,
    niceIncrement: NICE_INCREMENT,
    // piscina's run/wait-time histograms are read by nothing here, and cost each task's run() about 25 µs of the
    // worker's turn (143 → 118 µs, timed in the worker beside ten scanned uploads a second: cold code).
    recordTiming: false,
  });
  return pool;
}

/**
 * Runs `taskUrl`'s default export with `input` in the pool. `transfer` lists ArrayBuffers (whole, exact-size)
 * that move with the input; they are unusable here afterwards. Rejects with an OffloadError.
 */
export async function offload<T>(taskUrl: string, input: unknown, transfer: ArrayBuffer[], options: OffloadOptions): Promise<T> {
  const p = thePool();
  if (inFlight >= THREADS + options.maxQueue) throw new OffloadError(OffloadErrors.Saturated, `offload pool saturated (${inFlight} tasks in flight)`);
  const signal = new Deadline(options.timeoutMs);
  inFlight++;
  try {
    // Dispatched in a later turn: piscina's run() is about 0.15 ms of cold code on the worker's thread, which would
    // otherwise lengthen the turn whose filter asked (for a scanned body, the turn that gathered its last bytes).
    await nextTurn();
    if (signal.aborted) throw new Error('deadline before dispatch');
    const task: OffloadTask = { task: taskUrl, input };
    return (await p.run(task, { transferList: transfer, signal })) as T;
  } catch (err) {
    if (signal.aborted) throw new OffloadError(OffloadErrors.Timeout, `offloaded task over ${options.timeoutMs} ms`);
    if (/queue is at limit/i.test((err as Error).message)) throw new OffloadError(OffloadErrors.Saturated, 'offload queue full');
    throw new OffloadError(OffloadErrors.Failed, (err as Error).message);
  } finally {
    signal.clear();
    inFlight--;
  }
}

/**
 * A task's deadline as piscina takes an abort signal (the EventEmitter form: `once('abort')`, `off`/`removeListener`):
 * one plain timer. AbortSignal.timeout cost the worker more per task (an EventTarget, a weak reference, timer
 * machinery of its own), and a task is offloaded per scanned body, in a turn the worker's other requests wait on.
 */
class Deadline {
  aborted = false;
  readonly reason = 'offload deadline';
  private listener: (() => void) | null = null;
  private timer: NodeJS.Timeout | null;

  constructor(ms: number) {
    this.timer = setTimeout(expire, ms, this);
  }

  once(_event: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  // piscina's types name `off`; its code calls `removeListener`.
  off(): void {
    this.listener = null;
  }

  removeListener(): void {
    this.listener = null;
  }

  expire(): void {
    this.timer = null;
    this.aborted = true;
    const l = this.listener;
    this.listener = null;
    l?.();
  }

  clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.listener = null;
  }
}

function expire(d: Deadline): void {
  d.expire();
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_QUEUE = 64;

/** `ctx.offload` as filters call it (both engines): the pool, with defaults for a missing deadline or queue bound. */
export function offloadForFilter<T>(
  taskUrl: string,
  input: unknown,
  transfer: ArrayBuffer[] = [],
  options: { timeoutMs?: number; maxQueue?: number } = {},
): Promise<T> {
  return offload<T>(taskUrl, input, transfer, { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxQueue: options.maxQueue ?? DEFAULT_QUEUE });
}

/**
 * Shared memory as it is (a view: nothing to transfer, nothing copied), else an exact-size ArrayBuffer holding
 * `bytes` — the buffer itself when it owns all of one, else a copy — to transfer.
 */
export function offloadable(bytes: Buffer): { data: Uint8Array; transfer: ArrayBuffer[] } {
  if (bytes.buffer instanceof SharedArrayBuffer) return { data: bytes, transfer: [] };
  const ab = transferable(bytes);
  return { data: new Uint8Array(ab), transfer: [ab] };
}

/** An exact-size ArrayBuffer holding `bytes`: the buffer itself when it owns all of one, else a copy. */
export function transferable(bytes: Buffer): ArrayBuffer {
  const ab = bytes.buffer;
  if (bytes.byteOffset === 0 && bytes.byteLength === ab.byteLength && ab instanceof ArrayBuffer) return ab;
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return copy;
}
