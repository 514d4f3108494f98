// Open-loop load at a fixed rate, for latency. Requests are issued on a schedule (ticks of 1 ms, every request
// that came due is sent); when no connection is free a request waits, and its latency counts from when it came
// due — so a stall in the server shows up as latency instead of being hidden by a client that slowed down
// (coordinated omission). Response framing is parsed by Mantou's own strict parser.

import net from 'node:net';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import type { ResponseHead } from '../core/http/response-head.ts';
import { ResponseParser, type ResponseParserHandler } from '../core/upstream/response-parser.ts';

export interface OpenLoopOptions {
  port: number;
  /** Requests per second. */
  rate: number;
  durationMs: number;
  /** Keep-alive connections kept open (ignored with newConnection). */
  connections: number;
  /** The exact request bytes (keep-alive requests must not carry Connection: close). */
  request: Buffer;
  /** Open a fresh connection for every request (the request should carry Connection: close). */
  newConnection: boolean;
  /**
   * When given, every completed request is appended as two numbers: when it came due (ms since the Unix epoch, as
   * `performance.timeOrigin + performance.now()`, so another process's times compare) and its latency in µs. A
   * re-measured round empties it first: it holds the round that counted.
   */
  samples?: number[];
  /**
   * Whether a round the generator's own major GC fell in may be measured again (asked each time; absent: always,
   * up to MAX_REMEASURES). The bench's time bound answers it (bench/run-budget.ts); unmeasured traffic says no.
   */
  mayRepeat?: () => boolean;
}

export interface OpenLoopResult {
  /** Latencies in microseconds. */
  histogram: hdr.Histogram;
  sent: number;
  completed: number;
  errors: number;
  non2xx: number;
  /** Rounds measured again because the generator itself ran a major GC inside them (see openLoop). */
  remeasured: number;
  /** The round returned had such a GC inside it all the same (MAX_REMEASURES reached, or mayRepeat said no). */
  majorGcInside: boolean;
}

const TICK_MS = 1;
/** How often a round is measured again when the generator's own major GC falls in it, at most. */
export const MAX_REMEASURES = 3;

// The generator's own major garbage collections, as [start, end] in performance.now() time. Traced with --trace-gc
// in a full bench run, the generator (Node, on the load CPU beside the upstream) ran a mark-compact about once a
// minute: a 5 ms pause after 14–18 ms of marking on that same CPU. Its allocation is the same from run to run, so
// it fell in the same round of the same candidate run after run, in small GETs and 40 headers alike (the second
// candidate's second round at 5,000 req/s: p99 9.1 ms, max 20.6 ms, against 0.5–0.7 ms in its other rounds), and
// read as that candidate's tail.
// A forced full GC between rounds was no cure: rounds right after one measured 2–4× worse p99s than rounds
// without, even after 1 s of rest or 300 ms of traffic. So a round a major GC falls in is measured again.
const majorGcs: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (isMajorGc(e)) majorGcs.push([e.startTime, e.startTime + e.duration]);
}).observe({ entryTypes: ['gc'] });

/** Whether a `gc` performance entry is a major collection (mark-compact, or its incremental marking). */
export function isMajorGc(e: PerformanceEntry): boolean {
  const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
  return kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL;
}

/** Whether a major GC of this process overlapped [from, to]; forgets every one seen so far. */
function majorGcWithin(from: number, to: number): boolean {
  let hit = false;
  for (const [start, end] of majorGcs) if (start <= to && end >= from) hit = true;
  majorGcs.length = 0;
  return hit;
}

const DRAIN_GRACE_MS = 5000;
/**
 * Every connection reads into this one buffer (Node's `onread`; the parser keeps nothing of it past a read). With a
 * fresh Buffer per read, 64 KiB and 1 MiB responses gave the generator tens of megabytes a second of external
 * memory, and V8 a major GC about every second: nearly every round would have been measured again.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

class Conn implements ResponseParserHandler {
  readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  private readonly run: Run;
  busy = false;
  dueAt = 0;
  status = 0;

  constructor(run: Run, port: number) {
    this.run = run;
    this.parser = new ResponseParser(this, 65536);
    this.socket = net.connect({
      port,
      host: '127.0.0.1',
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number): boolean => {
          const f = this.parser.execute(READ_BUFFER.subarray(0, n));
          if (f !== null) this.fail();
          return true;
        },
      },
    });
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => {
      if (this.busy) this.fail();
      this.run.onClosed(this);
    });
  }

  send(dueAt: number): void {
    this.busy = true;
    this.dueAt = dueAt;
    this.parser.reset(this, false);
    this.socket.write(this.run.options.request);
  }

  onResponseHead(head: ResponseHead): void {
    this.status = head.status;
  }
  onResponseBody(): void {}
  onInformational(): void {}
  onUpgradedData(): void {}
  onResponseComplete(): void {
    this.busy = false;
    this.run.onComplete(this, this.status);
  }

  private fail(): void {
    if (!this.busy) return;
    this.busy = false;
    this.run.onError(this);
  }
}

/** A histogram of latencies in µs as the generator records them: 1 µs to 60 s, three significant digits. */
export function latencyHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

class Run {
  readonly options: OpenLoopOptions;
  readonly histogram = latencyHistogram();
  private readonly idle: Conn[] = [];
  private readonly queue: number[] = [];
  private readonly all = new Set<Conn>();
  sent = 0;
  completed = 0;
  errors = 0;
  non2xx = 0;
  private outstanding = 0;
  private stopped = false;
  private resolveDone: () => void = () => {};

  constructor(options: OpenLoopOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const o = this.options;
    if (!o.newConnection) {
      for (let i = 0; i < o.connections; i++) {
        const c = new Conn(this, o.port);
        this.all.add(c);
        await new Promise<void>((resolve, reject) => {
          c.socket.once('connect', () => resolve());
          c.socket.once('error', reject);
        });
        this.idle.push(c);
      }
    }
    const start = performance.now();
    const interval = 1000 / o.rate;
    let next = start;
    await new Promise<void>((resolve) => {
      this.resolveDone = resolve;
      const tick = () => {
        const now = performance.now();
        if (now - start >= o.durationMs) {
          this.stopped = true;
          if (this.outstanding === 0) resolve();
          // Requests still unanswered after a grace period are errors: a run always ends.
          else
            setTimeout(() => {
              this.errors += this.outstanding;
              resolve();
            }, DRAIN_GRACE_MS);
          return;
        }
        // Every request whose slot has passed is due now; it is sent at once unless every connection is busy.
        while (next <= now) {
          next += interval;
          this.dispatch(now);
        }
        setTimeout(tick, TICK_MS);
      };
      tick();
    });
    for (const c of this.all) c.socket.destroy();
  }

  private dispatch(dueAt: number): void {
    this.sent++;
    this.outstanding++;
    if (this.options.newConnection) {
      const c = new Conn(this, this.options.port);
      this.all.add(c);
      c.send(dueAt);
      return;
    }
    const c = this.idle.pop();
    if (c !== undefined) c.send(dueAt);
    else this.queue.push(dueAt);
  }

  onComplete(c: Conn, status: number): void {
    const us = Math.max(1, Math.round((performance.now() - c.dueAt) * 1000));
    this.histogram.recordValue(us);
    this.options.samples?.push(performance.timeOrigin + c.dueAt, us);
    this.completed++;
    if (status < 200 || status >= 300) this.non2xx++;
    this.finishOne(c);
  }

  onError(c: Conn): void {
    this.errors++;
    this.finishOne(c);
  }

  onClosed(c: Conn): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  private finishOne(c: Conn): void {
    this.outstanding--;
    if (this.options.newConnection) c.socket.end();
    else if (!c.socket.destroyed) {
      const dueAt = this.queue.shift();
      if (dueAt !== undefined) c.send(dueAt);
      else this.idle.push(c);
    }
    if (this.stopped && this.outstanding === 0) this.resolveDone();
  }
}

/**
 * One round of open-loop load. A round in which this process ran a major GC (its pause and the marking before it
 * compete with the upstream and the generator on the load CPU) is discarded and measured again, up to
 * MAX_REMEASURES times while `mayRepeat` allows; `remeasured` says how often, `majorGcInside` whether the one kept had one.
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  for (let remeasured = 0; ; remeasured++) {
    if (options.samples !== undefined) options.samples.length = 0;
    const run = new Run(options);
    const from = performance.now();
    await run.start();
    // GC entries reach the observer after the collection, from the event loop: let pending ones arrive.
    await new Promise((resolve) => setImmediate(resolve));
    const majorGcInside = majorGcWithin(from, performance.now());
    if (majorGcInside && remeasured < MAX_REMEASURES && (options.mayRepeat?.() ?? true)) {
      run.histogram.destroy();
      continue;
    }
    return { histogram: run.histogram, sent: run.sent, completed: run.completed, errors: run.errors, non2xx: run.non2xx, remeasured, majorGcInside };
  }
}
