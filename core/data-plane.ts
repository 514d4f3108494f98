// The data plane of one worker thread: the listeners of the current generation, kept across reloads when
// unchanged (closing a SO_REUSEPORT socket would drop its queued connections), and the generations still
// serving streams and sessions. Imported only after UWS_HTTP_MAX_HEADERS_SIZE is set (uWS reads it once, when it loads).

import { closeClustersNotIn, type Generation, type ListenerRuntime } from './generation.ts';
import { createHttpListener, type HttpListener } from './http/http-listener.ts';
import { loadUwsLibrary } from './http/uws-listener.ts';
import type { GenerationState, WorkerLifecycle } from './lifecycle.ts';
import { componentLogger } from './logger.ts';
import { SharedSessionCounts } from './tcp/shared-session-counts.ts';
import { TcpListener } from './tcp/tcp-listener.ts';

const log = componentLogger('data-plane');

type AnyListener = HttpListener | TcpListener;

interface OpenListener {
  listener: AnyListener;
  address: string;
  port: number;
  /** The engine for HTTP, 'tcp' for TCP: a change means a new listen socket. */
  kind: string;
}

export interface DataPlaneOptions {
  drainTimeoutMs: number;
  /** Bind exclusively (single-process use) or share ports with the other workers (SO_REUSEPORT). */
  exclusive: boolean;
  /** Cross-worker session counts of TCP listeners (shared-session-counts.ts), and this worker's index in them. */
  sessionCounts?: { buffer: SharedArrayBuffer; worker: number };
}

export class DataPlane {
  private readonly listeners = new Map<string, OpenListener>();
  /** Listeners removed by a reload, still finishing their connections until the drain timeout. */
  private readonly draining = new Set<AnyListener>();
  private current: Generation | null = null;
  private readonly retired: Generation[] = [];
  private readonly options: DataPlaneOptions;

  constructor(lifecycle: WorkerLifecycle, options: DataPlaneOptions) {
    this.options = options;
    lifecycle.onGenerationIdle = (g) => this.releaseRetired(g);
  }

  get generation(): Generation | null {
    return this.current;
  }

  /** Every HTTP listener's counts up to date (HttpListener.settleCounts), before the worker reports them. */
  settleCounts(): void {
    for (const { listener } of this.listeners.values()) if (!(listener instanceof TcpListener)) listener.settleCounts?.();
  }

  /** The open TCP listeners (their counters outlive generations). */
  tcpListeners(): TcpListener[] {
    const out: TcpListener[] = [];
    for (const { listener } of this.listeners.values()) if (listener instanceof TcpListener) out.push(listener);
    return out;
  }

  /**
   * Makes `next` current: unchanged listeners (same name, address, port and engine or protocol) keep their socket
   * and serve new streams and sessions from `next` at once; new listeners open; removed ones stop accepting and
   * drain. Streams and sessions in flight finish on the generation they started with.
   */
  async apply(next: Generation): Promise<Record<string, number>> {
    const opened: AnyListener[] = [];
    try {
      for (const l of next.listeners) {
        const open = this.listeners.get(l.name);
        if (open !== undefined && open.address === l.address && open.port === l.port && open.kind === kindOf(l)) continue;
        if (l.protocol === 'http' && l.engine === 'uws') await loadUwsLibrary();
        const listener = this.createListener(l);
        opened.push(listener);
        await listener.listen(l.address, l.port, this.options.exclusive);
      }
    } catch (err) {
      for (const l of opened) l.close();
      throw err;
    }
    const keep = new Set(next.listeners.map((l) => l.name));
    for (const [name, open] of this.listeners) {
      const replaced = opened.some((l) => l.name === name);
      if (!keep.has(name) || replaced) {
        this.listeners.delete(name);
        this.drainListener(open.listener);
      }
    }
    for (const l of next.listeners) {
      const fresh = opened.find((o) => o.name === l.name);
      if (fresh !== undefined) this.listeners.set(l.name, { listener: fresh, address: l.address, port: fresh.port, kind: kindOf(l) });
      else {
        const open = this.listeners.get(l.name)?.listener;
        if (l.protocol === 'tcp') (open as TcpListener).setContext(l.context);
        else (open as HttpListener).setContext(l.context);
      }
    }
    const previous = this.current;
    this.current = next;
    if (previous !== null) {
      previous.state.retired = true;
      this.retired.push(previous);
      if (previous.state.inflight === 0) this.releaseRetired(previous.state);
    }
    for (const l of opened)
      log.info({ listener: l.name, port: l.port, generation: next.id, relay: l instanceof TcpListener ? l.relay : undefined }, 'listener started');
    return this.ports();
  }

  ports(): Record<string, number> {
    return Object.fromEntries([...this.listeners].map(([name, o]) => [name, o.listener.port]));
  }

  /** Drain: stop accepting on every listener (open connections finish their streams, sessions go on). */
  stopAccepting(): void {
    for (const { listener } of this.listeners.values()) listener.stopAccepting();
  }

  /** Closes every socket (uWS must have none open when the thread exits) and every pool. */
  close(): void {
    for (const { listener } of this.listeners.values()) listener.close();
    this.listeners.clear();
    for (const l of this.draining) l.close();
    this.draining.clear();
    for (const g of this.retired.splice(0)) closeClustersNotIn(g, null);
    if (this.current !== null) closeClustersNotIn(this.current, null);
    this.current = null;
  }

  private createListener(l: ListenerRuntime): AnyListener {
    if (l.protocol === 'http') return createHttpListener(l.engine, l.name, l.address, l.port, l.context);
    const counts = this.options.sessionCounts;
    const shared = counts === undefined || l.sessionSlot < 0 ? null : new SharedSessionCounts(counts.buffer, l.sessionSlot, counts.worker);
    return new TcpListener(l.name, l.context, shared);
  }

  private drainListener(listener: AnyListener): void {
    listener.stopAccepting();
    this.draining.add(listener);
    const timer = setTimeout(() => {
      this.draining.delete(listener);
      listener.close();
    }, this.options.drainTimeoutMs);
    timer.unref();
    log.info({ listener: listener.name }, 'listener removed: draining');
  }

  /** A retired generation has no stream left: close the clusters the current generation does not share. */
  private releaseRetired(state: GenerationState): void {
    const i = this.retired.findIndex((g) => g.state === state);
    if (i < 0) return;
    const [g] = this.retired.splice(i, 1);
    if (g !== undefined) closeClustersNotIn(g, this.current);
  }
}

function kindOf(l: ListenerRuntime): string {
  return l.protocol === 'http' ? l.engine : 'tcp';
}
