// Entry point of a data-plane worker thread: compiles each generation the supervisor sends, runs it in its own
// uWS apps and pools (shared-nothing), drains and shuts down on command, and reports its counters when the
// supervisor asks (on each admin read): nothing runs on a timer, so an idle worker's thread does not wake at all.

import { parentPort, workerData } from 'node:worker_threads';
import { compileGeneration } from '../config/compile-generation.ts';
import { type FilterModuleUrls, importFilterModules } from '../config/filter-resolution.ts';
import { type Config, defaults } from '../config/schema.ts';
import { applyBusyPoll } from './busy-poll.ts';
import { DataPlane } from './data-plane.ts';
import { heapSizes, newGcCounters, recordGc, roundedGcCounters } from './gc-stats.ts';
import { closeClustersNotIn, type Generation } from './generation.ts';
import { HeapGuard } from './heap-guard.ts';
import { addStreamCounters, newStreamCounters } from './http/stream-counters.ts';
import { WorkerLifecycle } from './lifecycle.ts';
import { componentLogger } from './logger.ts';
import { decodeMessage, postMessageTo, type SupervisorMessage, type WorkerCounters, type WorkerMessage } from './thread-messages.ts';
import { typeStrippingCounts } from './type-stripping/shared-type-stripping.js';

export interface WorkerData {
  index: number;
  drainTimeoutMs: number;
  testHooks: boolean;
  /** The configured heap limit: past it the worker closes its sockets and exits, to be restarted. */
  heapSoftLimitBytes: number;
  /** TCP listeners' session counts shared by every worker (core/tcp/shared-session-counts.ts). */
  sessionCounts: SharedArrayBuffer;
}

const port = parentPort;
if (port === null) throw new Error('core/worker.ts runs as a worker thread');
const data = workerData as WorkerData;
const log = componentLogger('worker').child({ worker: data.index });
const lifecycle = new WorkerLifecycle();
const plane = new DataPlane(lifecycle, {
  drainTimeoutMs: data.drainTimeoutMs,
  exclusive: false,
  sessionCounts: { buffer: data.sessionCounts, worker: data.index },
});
/** Generations are applied one at a time, in the order they were sent. */
let applying: Promise<void> = Promise.resolve();

const send = (m: WorkerMessage) => postMessageTo(port, m);
/** This thread's collections since it started (a restarted worker starts again from zero, as its streams do). */
const gc = newGcCounters();

function counters(): WorkerCounters {
  plane.settleCounts();
  const c: WorkerCounters = {
    ...newStreamCounters(),
    ...roundedGcCounters(gc),
    ...heapSizes(),
    inflight: lifecycle.inflight,
    tcp: {},
    typeScriptModules: { ...typeStrippingCounts },
  };
  for (const l of plane.tcpListeners()) c.tcp[l.name] = l.reportCounters();
  for (const l of plane.generation?.listeners ?? []) {
    if (l.protocol !== 'http') continue;
    addStreamCounters(c, l.context.counters);
  }
  return c;
}

async function applyGeneration(
  id: number,
  config: Config,
  configFile: string,
  filterModules: FilterModuleUrls,
  draining: boolean,
  sessionSlots: Record<string, number>,
): Promise<void> {
  const previous = plane.generation;
  let next: Generation;
  try {
    // Custom filters are imported in this thread too (module instances are per thread); the URLs are the ones
    // the supervisor checked, so every worker runs the same code.
    next = compileGeneration(config, id, configFile, lifecycle, previous, await importFilterModules(filterModules), sessionSlots);
  } catch (err) {
    log.error({ err, generation: id }, 'generation failed to compile');
    send({ t: 'apply-failed', id, error: (err as Error).message });
    return;
  }
  try {
    const ports = await plane.apply(next);
    applyBusyPoll(config.busyPollUs ?? defaults.busyPollUs);
    lifecycle.draining ||= draining;
    send({ t: 'applied', id, ports });
  } catch (err) {
    closeClustersNotIn(next, previous);
    log.error({ err, generation: id }, 'generation failed to apply');
    send({ t: 'apply-failed', id, error: (err as Error).message });
  }
}

function shutdown(code: number): never {
  // uWS aborts the whole process if a thread exits with its sockets open: close everything first.
  plane.close();
  process.exit(code);
}

port.on('message', (bytes: Uint8Array) => {
  const m = decodeMessage<SupervisorMessage>(bytes);
  switch (m.t) {
    case 'generation':
      applying = applying.then(() => applyGeneration(m.id, m.config as Config, m.configFile, m.filterModules, m.draining, m.sessionSlots));
      return;
    case 'drain':
      lifecycle.draining = true;
      return;
    case 'stop-accepting':
      lifecycle.draining = true;
      plane.stopAccepting();
      lifecycle.onIdle = () => send({ t: 'idle' });
      if (lifecycle.inflight === 0) send({ t: 'idle' });
      return;
    case 'report-stats':
      // Also the heap check's backstop (core/heap-guard.ts), for an allocation V8 made without collecting first.
      heapGuard.check();
      send({ t: 'stats', id: m.id, counters: counters() });
      return;
    case 'shutdown':
      shutdown(0);
      return;
    case 'leak':
      if (data.testHooks) {
        const hoard: unknown[] = [];
        // About 20 MB/s: a leak the soft check (after every collection) catches long before V8's hard limit, twice
        // the soft one, even on a loaded machine (when the check ran on a timer, faster leaks outran a 250 ms one
        // with a 1.5× limit under parallel tests, and a worker V8 kills takes the process down through uWS).
        const grow = () => {
          for (let i = 0; i < 2_500; i++) hoard.push({ i, s: `leak-${i}-${hoard.length}` });
          setImmediate(grow);
        };
        grow();
      }
      return;
    case 'crash':
      if (data.testHooks) {
        setImmediate(() => {
          throw new Error('crash requested by a test hook');
        });
      }
      return;
  }
});

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'worker crashed');
  send({ t: 'exiting', reason: `crashed: ${err.message}` });
  shutdown(1);
});

// A worker killed by V8 at its hard heap limit cannot close its uWS sockets, and a thread that ends with them open
// aborts the whole process (probed: Node asserts on the open uv_poll handle). So the configured limit is a soft
// one, checked after every collection (core/heap-guard.ts) well before the hard limit the supervisor sets higher:
// past it, exit cleanly and be restarted.
const heapGuard = new HeapGuard(
  data.heapSoftLimitBytes,
  (used) => {
    log.fatal({ usedBytes: used, limitBytes: data.heapSoftLimitBytes }, 'worker heap limit reached: exiting to be restarted');
    send({ t: 'exiting', reason: `heap limit reached (${used} of ${data.heapSoftLimitBytes} bytes used)` });
    shutdown(1);
  },
  (entry) => recordGc(gc, entry),
);
heapGuard.start();
