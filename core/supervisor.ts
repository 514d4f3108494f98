// The primary thread: loads and validates the config, runs N data-plane workers, and owns signals, reloads,
// drain, the admin port and stats. Workers are shared-nothing; nothing crosses threads per request.

import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { FilterModuleUrls } from '../config/filter-resolution.ts';
import { loadConfigFile } from '../config/load-config.ts';
import { type Config, defaults } from '../config/schema.ts';
import { AdminServer } from './admin/admin-server.ts';
import { redact } from './admin/redact.ts';
import { ConfigWatcher } from './config-watcher.ts';
import { ConfigError } from './errors.ts';
import { addGcCounters, newGcCounters, roundedGcCounters, watchGc } from './gc-stats.ts';
import { addStreamCounters, newStreamCounters } from './http/stream-counters.ts';
import { type HeldPort, holdFreePort, probePort } from './listen-probe.ts';
import { componentLogger, rootLogger } from './logger.ts';
import { trimNativeHeapAndLog } from './malloc-trim.ts';
import { MANTOU_NODE_FLAGS, missingNodeFlags, WORKER_V8_FLAGS } from './node-flags.ts';
import { installSignalHandlers } from './process-signals.ts';
import { createSessionCountsBuffer, forgetWorkerSessions, SessionSlotTable } from './tcp/shared-session-counts.ts';
import { addTcpCounters, newTcpCounters, type TcpCounters } from './tcp/tcp-counters.ts';
import { decodeMessage, postMessageTo, type SupervisorMessage, type WorkerCounters, type WorkerMessage } from './thread-messages.ts';
import { serveTypeStripping } from './type-stripping/shared-type-stripping.js';
import type { WorkerData } from './worker.ts';

const log = componentLogger('supervisor');

const APPLY_TIMEOUT_MS = 15_000;
const RESTART_BACKOFF_MIN_MS = 100;
const RESTART_BACKOFF_MAX_MS = 5_000;
/** A worker that lived this long before crashing starts its backoff from the minimum again. */
const STABLE_WORKER_MS = 30_000;
const SHUTDOWN_GRACE_MS = 5_000;
const EXIT_NOW_GRACE_MS = 1_000;
const HARD_HEAP_FACTOR = 2;
/** JavaScript, so that the worker's TypeScript is stripped by this thread (core/type-stripping/). */
const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);
/**
 * How long an admin read waits for the workers' counters. A worker answers between two events of its loop; one busy
 * longer (a long synchronous filter) is reported as of its last answer and listed in `staleWorkers`.
 */
const STATS_REPLY_TIMEOUT_MS = 250;

export interface SupervisorOptions {
  configFile: string;
  /** --concurrency: overrides `workers` in the config. */
  concurrency?: number;
}

interface WorkerHandle {
  index: number;
  worker: Worker;
  startedAt: number;
  alive: boolean;
  /** The newest generation this worker reported applied (0: none yet). */
  applied: number;
  idle: boolean;
  stats: WorkerCounters | null;
  /** The `report-stats` request `stats` answers (0: none yet). */
  statsId: number;
  /** Why the worker said it is exiting, when it did. */
  exitReason: string;
}

/** A config with concrete listen ports; `release()` lets go of the `port: 0` ports held for the workers. */
interface ResolvedListeners {
  config: Config;
  bound: Map<string, ListenerAddress>;
  release(): void;
}

interface ListenerAddress {
  address: string;
  port: number;
}

export class Supervisor {
  private readonly options: SupervisorOptions;
  private config: Config;
  private filterModules: FilterModuleUrls;
  private generation = 0;
  private readonly workers: WorkerHandle[] = [];
  private readonly restarts: number[] = [];
  private readonly consecutiveCrashes: number[] = [];
  /** Where each listener is bound, by name: a reload keeps these unless the address or port changes. */
  private bound = new Map<string, ListenerAddress>();
  private admin: AdminServer | null = null;
  private adminPort = 0;
  /** The main thread's own collections (/stats `supervisorGc`); the workers count theirs. */
  private readonly supervisorGc = newGcCounters();
  private stopGcWatch: (() => void) | null = null;
  /** The address the admin port listens on: bound at start, kept through reloads. */
  private adminAddress = '';
  private draining = false;
  private shuttingDown = false;
  private reloadRunning: Promise<void> | null = null;
  private reloadQueued = false;
  private lastReloadError: { message: string; at: string } | null = null;
  private readonly counters = { reloads: 0, reloadFailures: 0, workerRestarts: 0 };
  /** TCP listeners' session counts, shared with every worker; a slot per TCP listener name. */
  private readonly sessionCounts = createSessionCountsBuffer();
  private readonly sessionSlotTable = new SessionSlotTable(this.sessionCounts);
  private sessionSlots: Record<string, number> = {};
  private watcher: ConfigWatcher | null = null;
  /** Observers of worker messages (waits for applied generations, idle workers). */
  private readonly messageWatchers = new Set<(h: WorkerHandle, m: WorkerMessage) => void>();
  /** The last `report-stats` request's id. */
  private statsRequests = 0;
  private resolveDone: (code: number) => void = () => {};
  /** Resolves with the exit code when the supervisor has stopped. */
  readonly done: Promise<number>;

  private constructor(options: SupervisorOptions, config: Config, filterModules: FilterModuleUrls) {
    this.filterModules = filterModules;
    this.options = options;
    this.config = config;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /** Loads the config, binds, starts the workers and waits until they all serve generation 1. */
  static async start(options: SupervisorOptions): Promise<Supervisor> {
    const { config, filterModules, digest } = await loadConfigFile(options.configFile);
    const s = new Supervisor(options, config, filterModules);
    await s.boot(digest);
    return s;
  }

  private get workerCount(): number {
    const w = this.options.concurrency ?? this.config.workers ?? 'auto';
    return w === 'auto' ? availableParallelism() : w;
  }

  /** `configDigest`: the content digest of the config file as loaded (core/config-watcher.ts). */
  private async boot(configDigest: string): Promise<void> {
    // V8's memory reducer runs full GCs whenever an isolate looks idle-ish, which on a proxy at moderate load
    // means latency spikes for a few MB of heap (measured: p99 at 5k req/s 4.4 ms → 1.6 ms without it); and a young
    // generation that shrinks after a quiet spell scavenges every few hundred requests (core/node-flags.ts says
    // both). Set before the workers' isolates are created, so they start with them. This thread's own isolate
    // exists already: for it the memory reducer's flag must come from the command line (core/node-flags.ts).
    for (const flag of WORKER_V8_FLAGS) v8.setFlagsFromString(flag);
    const missing = missingNodeFlags();
    if (missing.length > 0) {
      // Too late for this thread's own isolate (core/node-flags.ts): say so, once, with the fix.
      log.warn(
        { missing },
        `node was started without ${missing.join(' ')}: V8's memory reducer (full GCs of the main thread) or its GC helper threads take time on the workers' cores (start with "node ${MANTOU_NODE_FLAGS.join(' ')} …", as npm start and bin/mantou.js do)`,
      );
    }
    this.stopGcWatch ??= watchGc(this.supervisorGc);
    const resolved = await this.resolveListenAddresses(this.config);
    // uWS reads its header limit once, when it loads (in each worker): set it before any worker starts.
    process.env.UWS_HTTP_MAX_HEADERS_SIZE = String(maxHeaderBytes(this.config));
    // The workers' and their offload threads' TypeScript is stripped here, once, not by a stripper in each thread.
    serveTypeStripping();
    const admin = new AdminServer(
      {
        isReady: () => this.isReady(),
        configDump: () => this.configDump(),
        stats: () => this.stats(),
        reload: (source) => this.reload(source),
        drain: (source) => this.drain(source),
        crashWorker: process.env.MANTOU_TEST_HOOKS === '1' ? (index, how) => this.crashWorker(index, how) : undefined,
      },
      adminHeaderTimeoutMs(this.config),
    );
    this.adminAddress = this.config.admin?.address ?? defaults.adminAddress;
    this.adminPort = await admin.listen(this.adminAddress, this.config.admin?.port ?? defaults.adminPort);
    this.admin = admin;
    this.generation = 1;
    this.bound = resolved.bound;
    this.config = resolved.config;
    this.sessionSlots = this.sessionSlotTable.assign(tcpListenerNames(this.config));
    for (let i = 0; i < this.workerCount; i++) {
      this.restarts.push(0);
      this.consecutiveCrashes.push(0);
      this.spawn(i);
    }
    const failures = await this.waitForApplied(this.generation);
    resolved.release();
    if (failures.length > 0) {
      await this.stopWorkers();
      await admin.close();
      throw new ConfigError([{ file: this.options.configFile, line: 0, col: 0, path: '', message: `start-up failed: ${failures[0]}` }]);
    }
    installSignalHandlers({ reload: (s) => void this.reload(s), drain: (s) => this.drain(s), exitNow: (s) => this.exitNow(s) });
    this.watcher = new ConfigWatcher(this.options.configFile, () => void this.reload('watch'));
    this.watcher.follow(configDigest, this.config.watchConfig === true && !this.draining);
    trimNativeHeapAndLog('start');
    rootLogger.info(
      { config: this.options.configFile, ports: this.ports(), admin: this.adminPort, workers: this.workers.length, generation: this.generation },
      'mantou started',
    );
  }

  private ports(): Record<string, number> {
    return Object.fromEntries([...this.bound].map(([name, a]) => [name, a.port]));
  }

  /**
   * Binds each listener that is new (or moved) exclusively once, to prove nothing else holds its port, and picks a
   * concrete port for `port: 0` (held until `release()`, once the workers have bound it); listeners already bound
   * by our workers keep their port.
   */
  private async resolveListenAddresses(config: Config): Promise<ResolvedListeners> {
    const bound = new Map<string, ListenerAddress>();
    const held: HeldPort[] = [];
    const release = (): void => {
      for (const h of held.splice(0)) h.release();
    };
    const listeners = [];
    try {
      for (const l of config.listeners) {
        const address = l.address ?? defaults.listenerAddress;
        const mine = this.bound.get(l.name);
        let port: number;
        if (mine !== undefined && mine.address === address && (l.port === 0 || l.port === mine.port)) port = mine.port;
        else if (l.port === 0) {
          const h = await holdFreePort(l.name, address);
          held.push(h);
          port = h.port;
        } else port = await probePort(l.name, address, l.port);
        bound.set(l.name, { address, port });
        listeners.push({ ...l, address, port });
      }
    } catch (err) {
      release();
      throw err;
    }
    return { config: { ...config, listeners }, bound, release };
  }

  private spawn(index: number): void {
    const heapMb = this.config.workerHeapMb ?? defaults.workerHeapMb;
    const data: WorkerData = {
      index,
      drainTimeoutMs: this.config.drain?.timeoutMs ?? defaults.drainTimeoutMs,
      testHooks: process.env.MANTOU_TEST_HOOKS === '1',
      heapSoftLimitBytes: heapMb * 1024 * 1024,
      sessionCounts: this.sessionCounts,
    };
    const worker = new Worker(WORKER_ENTRY, {
      workerData: data,
      // The hard limit sits above the soft one the worker enforces itself (see core/worker.ts for why).
      resourceLimits: { maxOldGenerationSizeMb: Math.ceil(heapMb * HARD_HEAP_FACTOR) },
    });
    const handle: WorkerHandle = { index, worker, startedAt: performance.now(), alive: true, applied: 0, idle: false, stats: null, statsId: 0, exitReason: '' };
    this.workers[index] = handle;
    worker.on('message', (bytes: Uint8Array) => this.onWorkerMessage(handle, decodeMessage<WorkerMessage>(bytes)));
    worker.on('error', (err) => log.error({ worker: index, err }, 'worker error'));
    worker.on('exit', (code) => this.onWorkerExit(handle, code));
    this.send(handle, {
      t: 'generation',
      id: this.generation,
      config: this.config,
      configFile: this.options.configFile,
      filterModules: this.filterModules,
      draining: this.draining,
      sessionSlots: this.sessionSlots,
    });
  }

  private send(h: WorkerHandle, m: SupervisorMessage): void {
    if (h.alive) postMessageTo(h.worker, m);
  }

  private broadcast(m: SupervisorMessage): void {
    for (const h of this.workers) this.send(h, m);
  }

  private onWorkerMessage(h: WorkerHandle, m: WorkerMessage): void {
    if (m.t === 'applied') h.applied = Math.max(h.applied, m.id);
    else if (m.t === 'idle') h.idle = true;
    else if (m.t === 'stats') {
      h.stats = m.counters;
      h.statsId = m.id;
    } else if (m.t === 'exiting') h.exitReason = m.reason;
    for (const w of this.messageWatchers) w(h, m);
  }

  private onWorkerExit(h: WorkerHandle, code: number): void {
    h.alive = false;
    h.stats = null;
    // Its sessions died with it: they no longer count against any listener's connection limit.
    forgetWorkerSessions(this.sessionCounts, h.index);
    for (const w of this.messageWatchers) w(h, { t: 'idle' });
    if (this.shuttingDown) return;
    const lived = performance.now() - h.startedAt;
    if (lived > STABLE_WORKER_MS) this.consecutiveCrashes[h.index] = 0;
    const n = this.consecutiveCrashes[h.index] ?? 0;
    this.consecutiveCrashes[h.index] = n + 1;
    this.restarts[h.index] = (this.restarts[h.index] ?? 0) + 1;
    this.counters.workerRestarts++;
    const backoffMs = Math.min(RESTART_BACKOFF_MAX_MS, RESTART_BACKOFF_MIN_MS * 2 ** n);
    log.error(
      { worker: h.index, code, reason: h.exitReason || 'unknown', restarts: this.restarts[h.index], backoffMs },
      'worker exited unexpectedly: restarting',
    );
    setTimeout(() => {
      if (!this.shuttingDown) this.spawn(h.index);
    }, backoffMs);
  }

  /** Resolves when every live worker applied generation `id` (or failed to), with the failures. */
  private waitForApplied(id: number): Promise<string[]> {
    return new Promise((resolve) => {
      const failures: string[] = [];
      const settled = new Set<number>();
      const check = () => {
        if (this.workers.every((w) => !w.alive || w.applied >= id || settled.has(w.index))) finish();
      };
      const onMessage = (h: WorkerHandle, m: WorkerMessage) => {
        if (m.t === 'apply-failed' && m.id === id) {
          failures.push(`worker ${h.index}: ${m.error}`);
          settled.add(h.index);
        }
        check();
      };
      const timer = setTimeout(() => {
        failures.push(`workers did not apply generation ${id} within ${APPLY_TIMEOUT_MS} ms`);
        finish();
      }, APPLY_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.messageWatchers.delete(onMessage);
        resolve(failures);
      };
      this.messageWatchers.add(onMessage);
      check();
    });
  }

  isReady(): boolean {
    return !this.draining && this.workers.length > 0 && this.workers.every((w) => w.alive && w.applied === this.generation);
  }

  /** Reloads the config file. Concurrent calls coalesce: one more reload runs after the one in progress. */
  reload(source: string): Promise<{ ok: boolean; generation: number; error?: string }> {
    if (this.draining) return Promise.resolve({ ok: false, generation: this.generation, error: 'draining' });
    if (this.reloadRunning !== null) {
      this.reloadQueued = true;
      return this.reloadRunning.then(() => this.reloadResult());
    }
    const run = async () => {
      do {
        this.reloadQueued = false;
        await this.reloadOnce(source);
      } while (this.reloadQueued && !this.draining);
    };
    this.reloadRunning = run().finally(() => {
      this.reloadRunning = null;
    });
    return this.reloadRunning.then(() => this.reloadResult());
  }

  private lastReloadOk = true;

  private reloadResult(): { ok: boolean; generation: number; error?: string } {
    return this.lastReloadOk
      ? { ok: true, generation: this.generation }
      : { ok: false, generation: this.generation, error: this.lastReloadError?.message ?? 'reload failed' };
  }

  private async reloadOnce(source: string): Promise<void> {
    const started = performance.now();
    let resolved: ResolvedListeners | null = null;
    let filterModules: FilterModuleUrls;
    let sessionSlots: Record<string, number>;
    let digest: string;
    try {
      const loaded = await loadConfigFile(this.options.configFile);
      digest = loaded.digest;
      const config = loaded.config;
      filterModules = loaded.filterModules;
      if (maxHeaderBytes(config) !== maxHeaderBytes(this.config)) {
        log.warn('maxRequestHeadersBytes changes take effect only after a restart (uWS reads it once)');
      }
      // Against where it listens, not the last config: a refused change stays refused on every later reload.
      const adminPort = config.admin?.port ?? defaults.adminPort;
      const adminAddress = config.admin?.address ?? defaults.adminAddress;
      if ((adminPort !== 0 && adminPort !== this.adminPort) || adminAddress !== this.adminAddress) {
        log.warn("the admin port's address and port change only after a restart (it stays where it listens)");
      }
      resolved = await this.resolveListenAddresses(config);
      sessionSlots = this.sessionSlotTable.assign(tcpListenerNames(config));
    } catch (err) {
      resolved?.release();
      this.reloadFailed(source, err);
      return;
    }
    const next = resolved;
    const id = this.generation + 1;
    const previousConfig = this.config;
    const previousModules = this.filterModules;
    const previousSlots = this.sessionSlots;
    this.generation = id;
    this.config = next.config;
    this.filterModules = filterModules;
    this.sessionSlots = sessionSlots;
    this.broadcast({ t: 'generation', id, config: next.config, configFile: this.options.configFile, filterModules, draining: false, sessionSlots });
    const failures = await this.waitForApplied(id);
    next.release();
    if (failures.length > 0) {
      // Workers that failed keep serving their previous generation; report it, and retry on the next reload.
      this.config = previousConfig;
      this.filterModules = previousModules;
      this.sessionSlots = previousSlots;
      this.reloadFailed(source, new Error(failures.join('; ')));
      return;
    }
    this.bound = next.bound;
    // The admin port's address and port are bound once, at start; its header timeout follows each reload.
    if (this.admin !== null) this.admin.headerTimeoutMs = adminHeaderTimeoutMs(next.config);
    this.watcher?.follow(digest, next.config.watchConfig === true && !this.draining);
    this.counters.reloads++;
    this.lastReloadOk = true;
    log.info({ source, generation: id, ms: Math.round(performance.now() - started) }, 'config reloaded');
    trimNativeHeapAndLog('reload');
  }

  private reloadFailed(source: string, err: unknown): void {
    this.counters.reloadFailures++;
    this.lastReloadOk = false;
    const message = err instanceof Error ? err.message : String(err);
    this.lastReloadError = { message, at: new Date().toISOString() };
    log.error({ source, error: message }, 'reload rejected: the running config stays');
  }

  /**
   * Asks every live worker for its counters and resolves when all answered (or STATS_REPLY_TIMEOUT_MS passed), with
   * the indexes of those that did not. Asked on each read, not pushed on a timer: an idle worker never wakes.
   */
  private refreshStats(): Promise<number[]> {
    const id = ++this.statsRequests;
    const asked = this.workers.filter((w) => w.alive);
    for (const w of asked) this.send(w, { t: 'report-stats', id });
    return new Promise((resolve) => {
      const waiting = () => asked.filter((w) => w.alive && w.statsId < id);
      const check = () => {
        if (waiting().length === 0) finish();
      };
      const timer = setTimeout(() => finish(), STATS_REPLY_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        this.messageWatchers.delete(check);
        resolve(waiting().map((w) => w.index));
      };
      this.messageWatchers.add(check);
      check();
    });
  }

  /** Every live worker's counters summed, read now: HTTP streams, garbage collections, and TCP sessions per listener. */
  async stats(): Promise<unknown> {
    const staleWorkers = await this.refreshStats();
    const total = {
      ...newStreamCounters(),
      heapUsedBytes: 0,
      youngGenerationBytes: 0,
      inflight: 0,
      tcp: {} as Record<string, TcpCounters>,
      typeScriptModules: { byMainThread: 0, local: 0 },
    };
    const gc = newGcCounters();
    for (const w of this.workers) {
      const c = w.stats;
      if (c === null || !w.alive) continue;
      addStreamCounters(total, c);
      addGcCounters(gc, c);
      total.inflight += c.inflight;
      total.heapUsedBytes += c.heapUsedBytes ?? 0;
      total.youngGenerationBytes += c.youngGenerationBytes ?? 0;
      total.typeScriptModules.byMainThread += c.typeScriptModules?.byMainThread ?? 0;
      total.typeScriptModules.local += c.typeScriptModules?.local ?? 0;
      for (const [name, t] of Object.entries(c.tcp ?? {})) {
        total.tcp[name] ??= newTcpCounters();
        addTcpCounters(total.tcp[name], t);
      }
    }
    return {
      generation: this.generation,
      workers: this.workers.length,
      ...(staleWorkers.length > 0 && { staleWorkers }),
      ...total,
      ...roundedGcCounters(gc),
      supervisorGc: roundedGcCounters(this.supervisorGc),
    };
  }

  async configDump(): Promise<unknown> {
    await this.refreshStats();
    return {
      generation: this.generation,
      configFile: this.options.configFile,
      config: redact(this.config),
      lastReloadError: this.lastReloadError,
      counters: this.counters,
      draining: this.draining,
      workers: this.workers.map((w) => ({ index: w.index, alive: w.alive, generation: w.applied, restarts: this.restarts[w.index] ?? 0, stats: w.stats })),
    };
  }

  /**
   * Graceful drain: /ready fails at once; responses carry Connection: close; after drain.delayMs the listeners
   * stop accepting; streams in flight finish until drain.timeoutMs; then the workers stop and the process exits 0.
   */
  drain(source: string): void {
    if (this.draining) return;
    this.draining = true;
    this.watcher?.stop();
    const delayMs = this.config.drain?.delayMs ?? defaults.drainDelayMs;
    const timeoutMs = this.config.drain?.timeoutMs ?? defaults.drainTimeoutMs;
    log.info({ source, delayMs, timeoutMs }, 'draining');
    this.broadcast({ t: 'drain' });
    setTimeout(() => {
      this.broadcast({ t: 'stop-accepting' });
      this.waitForIdle(timeoutMs).then(async (idle) => {
        if (!idle) log.warn({ timeoutMs }, 'drain timeout: closing streams still in flight');
        await this.stopWorkers();
        await this.admin?.close();
        log.info('stopped');
        this.resolveDone(0);
      });
    }, delayMs);
  }

  private waitForIdle(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.workers.every((w) => !w.alive || w.idle)) finish(true);
      };
      const onMessage = () => check();
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (idle: boolean) => {
        clearTimeout(timer);
        this.messageWatchers.delete(onMessage);
        resolve(idle);
      };
      this.messageWatchers.add(onMessage);
      check();
    });
  }

  private async stopWorkers(): Promise<void> {
    this.shuttingDown = true;
    this.watcher?.stop();
    this.stopGcWatch?.();
    this.stopGcWatch = null;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (!w.alive) return resolve();
            const timer = setTimeout(() => void w.worker.terminate(), SHUTDOWN_GRACE_MS);
            w.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            this.send(w, { t: 'shutdown' });
          }),
      ),
    );
  }

  /**
   * Second signal: exit now, abandoning streams in flight. Workers still close their sockets first (bounded to
   * a second): a thread that ends with uWS sockets open makes uWS abort the whole process.
   */
  private exitNow(source: string): void {
    log.warn({ source }, 'second signal: exiting at once');
    const forced = setTimeout(() => process.exit(1), EXIT_NOW_GRACE_MS);
    this.stopWorkers().then(() => {
      clearTimeout(forced);
      process.exit(1);
    });
  }

  /** Test hook (MANTOU_TEST_HOOKS=1): make worker `index` crash (throw) or leak until its heap limit. */
  crashWorker(index: number, how: 'crash' | 'leak'): void {
    const w = this.workers[index];
    if (w !== undefined) this.send(w, { t: how });
  }
}

function maxHeaderBytes(config: Config): number {
  return Math.max(...config.listeners.map((l) => l.maxRequestHeadersBytes ?? defaults.maxRequestHeadersBytes));
}

function tcpListenerNames(config: Config): string[] {
  return config.listeners.filter((l) => l.protocol === 'tcp').map((l) => l.name);
}

const adminHeaderTimeoutMs = (config: Config): number => config.admin?.headerTimeoutMs ?? defaults.adminHeaderTimeoutMs;
