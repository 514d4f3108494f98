// The native TCP relay (native/l4-*.c, in the project's addon) as the TCP listener uses it: loading the addon,
// and the policy side of its sessions. The addon accepts, connects, relays and closes; at accept it asks
// `accept()` here, which picks the endpoint with the cluster's load balancer (shared with HTTP) and counts the
// session, or answers "hand it to JavaScript" when the session needs what only TcpSession does (connection
// filters, a hostname endpoint, a missing cluster). At the end it calls `ended()`: counters, access log,
// generation drain. Nothing here runs per byte.
//
// The addon is built at `npm ci` (native/build.js, a C compiler and Node's headers); without it, or with
// MANTOU_NATIVE_L4=off, every session goes through TcpSession on node:net, which does all the same things at about
// three times the CPU per new session.

import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { componentLogger } from '../logger.ts';
import { loadNativeAddon } from '../native-addon.ts';
import type { Cluster } from '../upstream/cluster.ts';
import { writeSessionAccessLog } from './session-access-log.ts';
import { sessionIdCounter } from './session-ids.ts';
import type { SharedSessionCounts } from './shared-session-counts.ts';
import { endpointCounters, type TcpCounters } from './tcp-counters.ts';
import type { TcpListenerContext } from './tcp-session.ts';

const log = componentLogger('tcp');

/** The addon's exports (native/l4-listener.c). */
export interface NativeRelayAddon {
  listen(
    address: string,
    port: number,
    exclusive: boolean,
    totals: Float64Array,
    sessionIds: Float64Array,
    onAccept: () => number,
    onConnectFailed: (token: number, attempts: number, errno: number) => number,
    onEnd: OnSessionEnd,
    onHandoff: (fd: number) => void,
  ): { handle: object; port: number };
  configure(handle: object, idleTimeoutMs: number, maxSessionMs: number, readAddresses: boolean): void;
  addTarget(handle: object, address: string, port: number, connectTimeoutMs: number): number;
  stopAccepting(handle: object): void;
  close(handle: object): void;
}

/** The addon's call when a native session has ended (both sockets closed). */
type OnSessionEnd = (
  token: number,
  connected: number,
  bytesFromClient: number,
  bytesFromUpstream: number,
  durationMs: number,
  reason: number,
  sessionId: number,
  clientAddress: string,
  clientPort: number,
) => void;

/** accept()'s answers besides a token (native/l4-relay.h has the same numbers). */
export const HANDOFF = -1;
/** Close reasons by the addon's numbers (enum reason in native/l4-relay.h). */
const REASONS = [
  'client_closed',
  'client_closed',
  'upstream_closed',
  'client_reset',
  'client_error',
  'upstream_reset',
  'upstream_error',
  'connect_failed',
  'connect_timeout',
  'idle_timeout',
  'max_duration',
  'listener_closed',
] as const;

function loadAddon(): { addon: NativeRelayAddon | null; why: string } {
  if (process.env.MANTOU_NATIVE_L4 === 'off') return { addon: null, why: 'MANTOU_NATIVE_L4=off' };
  return loadNativeAddon<NativeRelayAddon>();
}

const loaded = loadAddon();
if (loaded.addon === null && process.env.MANTOU_NATIVE_L4 !== 'off') {
  log.warn({ reason: loaded.why }, 'native TCP relay unavailable: TCP sessions run on node:net (about 3x the CPU per new session)');
}
/** The addon, or null: TCP listeners then run every session on node:net. */
export const nativeRelay: NativeRelayAddon | null = loaded.addon;
/** Why nativeRelay is null ('' when it is not). */
export const nativeRelayMissing: string = loaded.why;

/** What the native side needs of its listener (TcpListener). */
export interface NativeSessionOwner {
  readonly name: string;
  readonly counters: TcpCounters;
  readonly shared: SharedSessionCounts | null;
  /** A session only TcpSession can run: its client connection as a descriptor of its own. */
  adoptDescriptor(fd: number): void;
}

/** One generation's context as native sessions see it: sessions started on it, and its clusters' targets. */
interface ContextSlot {
  readonly context: TcpListenerContext;
  live: number;
}

const TOKEN_SLOT = 2 ** 32;
const TOKEN_ENDPOINT = 2 ** 16;
const ordinals = { active: 0, thisSecond: 0 };

/**
 * The JavaScript half of one listener's native sessions. A session's token (a double) carries its context slot,
 * the cluster's endpoint index and the addon's target index: slot·2³² + endpoint·2¹⁶ + target.
 */
export class NativeSessions {
  private readonly addon: NativeRelayAddon;
  private readonly owner: NativeSessionOwner;
  private handle: object | null = null;
  /** [bytes from clients, bytes from upstreams], written by the addon (an ArrayBuffer of its own: it never moves). */
  readonly totals = new Float64Array(new ArrayBuffer(16));
  private readonly synced = new Float64Array(2);
  private readonly slots = new Map<number, ContextSlot>();
  private slotId = 0;
  private current: ContextSlot;
  /** Per cluster: the addon's target index of each endpoint, or null when one is not an IP address. */
  private readonly targets = new WeakMap<Cluster, Int32Array | null>();

  constructor(addon: NativeRelayAddon, owner: NativeSessionOwner, context: TcpListenerContext) {
    this.addon = addon;
    this.owner = owner;
    this.current = { context, live: 0 };
    this.slots.set(0, this.current);
  }

  listen(address: string, port: number, exclusive: boolean): number {
    const r = this.addon.listen(address, port, exclusive, this.totals, sessionIdCounter, this.accept, this.connectFailed, this.ended, this.handoff);
    this.handle = r.handle;
    this.configure();
    return r.port;
  }

  /** A new generation: sessions accepted from now on use it; those running keep theirs. */
  setContext(context: TcpListenerContext): void {
    const previous = this.current;
    this.slotId = (this.slotId + 1) % 65536;
    this.current = { context, live: 0 };
    this.slots.set(this.slotId, this.current);
    if (previous.live === 0) this.dropSlot(previous);
    this.configure();
  }

  stopAccepting(): void {
    if (this.handle !== null) this.addon.stopAccepting(this.handle);
  }

  close(): void {
    if (this.handle !== null) this.addon.close(this.handle);
  }

  /** Adds the bytes relayed since the last call to the listener's counters (when the admin port reads them). */
  syncCounters(): void {
    const c = this.owner.counters;
    c.bytesFromClient += (this.totals[0] as number) - (this.synced[0] as number);
    c.bytesFromUpstream += (this.totals[1] as number) - (this.synced[1] as number);
    this.synced[0] = this.totals[0] as number;
    this.synced[1] = this.totals[1] as number;
  }

  private configure(): void {
    if (this.handle === null) return;
    const c = this.current.context;
    this.addon.configure(this.handle, c.idleTimeoutMs, c.maxSessionMs, c.accessLog);
  }

  private dropSlot(slot: ContextSlot): void {
    for (const [id, s] of this.slots) if (s === slot && s !== this.current) this.slots.delete(id);
  }

  private targetsOf(cluster: Cluster): Int32Array | null {
    let t = this.targets.get(cluster);
    if (t !== undefined) return t;
    const endpoints = cluster.spec.endpoints;
    t = new Int32Array(endpoints.length);
    for (let i = 0; i < endpoints.length; i++) {
      const e = endpoints[i] as (typeof endpoints)[number];
      const index = net.isIP(e.address) === 0 ? -1 : this.addon.addTarget(this.handle as object, e.address, e.port, cluster.spec.connectTimeoutMs);
      if (index < 0) {
        t = null;
        break;
      }
      t[i] = index;
    }
    this.targets.set(cluster, t);
    return t;
  }

  private token(slotId: number, endpoint: number, targets: Int32Array): number {
    return slotId * TOKEN_SLOT + endpoint * TOKEN_ENDPOINT + (targets[endpoint] as number);
  }

  // ---- called by the addon (never throw: an exception there would reach the thread's uncaught handler) ----

  private readonly accept = (): number => {
    try {
      const context = this.current.context;
      if (context.filters.length > 0) return HANDOFF;
      const cluster = context.clusters.get(context.defaultCluster);
      if (cluster === undefined) return HANDOFF;
      const targets = this.targetsOf(cluster);
      if (targets === null) return HANDOFF;
      const counters = this.owner.counters;
      counters.sessions++;
      counters.activeSessions++;
      this.owner.shared?.opened(Math.floor(Date.now() / 1000), ordinals);
      this.current.live++;
      context.lifecycle.streamStarted(context.generation);
      return this.token(this.slotId, cluster.pickEndpoint(), targets);
    } catch (err) {
      log.error({ err, listener: this.owner.name }, 'native accept failed: session handed to the JavaScript relay');
      return HANDOFF;
    }
  };

  private readonly connectFailed = (token: number, attempts: number, errno: number): number => {
    try {
      const { context, cluster, endpoint } = this.decode(token);
      const counters = this.owner.counters;
      const name = cluster.endpointNames[endpoint] as string;
      counters.connectFailures++;
      endpointCounters(counters, name).connectFailures++;
      const detail = errnoName(errno);
      if (attempts < context.maxConnectAttempts) {
        log.debug({ listener: this.owner.name, upstream: name, detail }, 'upstream connect failed: retrying');
        const endpoints = cluster.spec.endpoints.length;
        let next = cluster.pickEndpoint();
        // Retries go to another endpoint while there is one (HAProxy's redispatch).
        for (let n = 0; next === endpoint && endpoints > 1 && n < endpoints; n++) next = cluster.pickEndpoint();
        // The session's own generation (a reload since its accept does not move it).
        return this.token(Math.floor(token / TOKEN_SLOT), next, this.targetsOf(cluster) as Int32Array);
      }
      counters.sessionsUnreachable++;
      log.warn({ listener: this.owner.name, upstream: name, attempts, detail }, 'upstream unreachable: client connection reset');
    } catch (err) {
      log.error({ err, listener: this.owner.name }, 'native connect retry failed');
    }
    return -1;
  };

  private readonly ended: OnSessionEnd = (token, connected, bytesFromClient, bytesFromUpstream, durationMs, reason, sessionId, clientAddress, clientPort) => {
    try {
      const { slot, context, cluster, endpoint } = this.decode(token);
      const counters = this.owner.counters;
      const closeReason = REASONS[reason] ?? 'client_closed';
      const upstream = cluster.endpointNames[endpoint] as string;
      counters.activeSessions--;
      this.owner.shared?.closed();
      counters.closeReasons[closeReason] = (counters.closeReasons[closeReason] ?? 0) + 1;
      counters.sessionSeconds += durationMs / 1000;
      // Native sessions are counted on their endpoint when they end (TcpSession counts at connect).
      if (connected === 1) endpointCounters(counters, upstream).sessions++;
      if (context.accessLog) {
        const session = {
          listenerName: this.owner.name,
          sessionId,
          clientAddress,
          clientPort,
          clusterName: context.defaultCluster,
          upstreamEndpoint: connected === 1 ? upstream : '',
        };
        writeSessionAccessLog(session, null, { bytesFromClient, bytesFromUpstream, durationMs, closeReason });
      }
      slot.live--;
      if (slot.live === 0 && slot !== this.current) this.dropSlot(slot);
      context.lifecycle.streamFinished(context.generation);
    } catch (err) {
      log.error({ err, listener: this.owner.name }, 'native session end failed');
    }
  };

  private readonly handoff = (fd: number): void => {
    try {
      this.owner.adoptDescriptor(fd);
    } catch (err) {
      log.error({ err, listener: this.owner.name }, 'handing a connection to the JavaScript relay failed');
    }
  };

  private decode(token: number): { slot: ContextSlot; context: TcpListenerContext; cluster: Cluster; endpoint: number } {
    const slot = this.slots.get(Math.floor(token / TOKEN_SLOT)) as ContextSlot;
    const context = slot.context;
    return { slot, context, cluster: context.clusters.get(context.defaultCluster) as Cluster, endpoint: Math.floor(token / TOKEN_ENDPOINT) % TOKEN_ENDPOINT };
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(errno);
  } catch {
    return String(errno);
  }
}
