// Calls to the proxy's admin port.

import type net from 'node:net';
import { request } from './http-client.ts';
import { waitFor } from './tcp-peers.ts';

export async function adminGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request({ port, path });
  return { status: r.status, body: r.body.toString() };
}

export async function adminPost(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await request({ port, method: 'POST', path });
  return { status: r.status, body: r.body.toString() };
}

/** The HTTP stream counters of /stats: the supervisor asks each worker for them, and sums. */
export interface StreamStats {
  streams: number;
  nativeStreams: number;
  nativeHandoffs: number;
  nativeHandbacks: number;
  /** Streams in progress over all workers. */
  inflight: number;
}

export async function streamStats(port: number): Promise<StreamStats> {
  return JSON.parse((await adminGet(port, '/stats')).body) as StreamStats;
}

/**
 * /stats once `check` holds for it, or the last read after 4 s: a stream is counted when it finishes, which can be
 * just after its client has read the whole response.
 */
export async function streamStatsUntil(port: number, check: (s: StreamStats) => boolean): Promise<StreamStats> {
  let s = await streamStats(port);
  for (let i = 0; i < 40 && !check(s); i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await streamStats(port);
  }
  return s;
}

/** /stats once the streams before it have all finished and been counted: two reads 250 ms apart that agree. */
export async function settledStreamStats(port: number): Promise<StreamStats> {
  let s = await streamStats(port);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const next = await streamStats(port);
    if (next.streams === s.streams && next.nativeHandoffs === s.nativeHandoffs && next.nativeHandbacks === s.nativeHandbacks) return next;
    s = next;
  }
  return s;
}

export interface ConfigDump {
  generation: number;
  lastReloadError: { message: string; at: string } | null;
  config: { listeners: { name: string; port: number }[] };
  counters: { reloads: number; reloadFailures: number; workerRestarts: number };
  workers: { index: number; alive: boolean; generation: number; restarts: number; stats?: { filterFailuresByFilter?: Record<string, number> } }[];
}

export async function configDump(port: number): Promise<ConfigDump> {
  return JSON.parse((await adminGet(port, '/config_dump')).body) as ConfigDump;
}

/** The failures counted for HTTP filter `filter`, summed over the workers (as their last stats reported them). */
export async function filterFailuresOf(port: number, filter: string): Promise<number> {
  const d = await configDump(port);
  return d.workers.reduce((n, w) => n + (w.stats?.filterFailuresByFilter?.[filter] ?? 0), 0);
}

/**
 * Crashes worker 0 (the proxy runs with MANTOU_TEST_HOOKS=1) while `held` TCP clients have sessions on it, and
 * resolves once each of them got the worker's FIN (they stay half-open, so it waits for 'end'), the supervisor
 * counted the restart, and the proxy is ready again.
 */
export async function crashWorkerHolding(adminPort: number, held: net.Socket[]): Promise<void> {
  const gone = held.map((c) => new Promise((r) => c.once('end', r)));
  const crash = await adminPost(adminPort, '/debug/crash-worker?index=0');
  if (crash.status !== 202) throw new Error(`crash-worker answered ${crash.status}`);
  await Promise.all(gone);
  await waitFor(async () => (await configDump(adminPort)).counters.workerRestarts === 1, 10_000);
  await waitFor(async () => (await adminGet(adminPort, '/ready')).status === 200, 10_000);
}

/** Runs `fn`, which causes `n` requests; the native streams and the handoffs to the net engine among them. */
export async function nativeCounted(port: number, n: number, fn: () => Promise<void>): Promise<{ native: number; handoffs: number }> {
  const before = await settledStreamStats(port);
  await fn();
  const after = await streamStatsUntil(port, (s) => s.nativeStreams + s.nativeHandoffs >= before.nativeStreams + before.nativeHandoffs + n);
  return { native: after.nativeStreams - before.nativeStreams, handoffs: after.nativeHandoffs - before.nativeHandoffs };
}
