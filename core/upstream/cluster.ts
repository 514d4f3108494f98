// A named group of endpoints behind one load balancer, each endpoint with its own connection pool.

import type { ConnectionPool } from './connection-pool.ts';
import { ConnectionPool as Pool, type PoolOptions, type PoolWaiter } from './connection-pool.ts';
import { WeightedRoundRobin } from './load-balancer.ts';

export interface EndpointSpec {
  address: string;
  port: number;
  weight: number;
}

export interface ClusterSpec {
  name: string;
  endpoints: readonly EndpointSpec[];
  connectTimeoutMs: number;
  maxConnectionsPerEndpoint: number;
  maxPendingRequestsPerEndpoint: number;
  idleTimeoutMs: number;
  maxResponseHeadBytes: number;
}

/**
 * Idle sweeps only reclaim sockets; reuse is already refused past the idle timeout at acquire time. One timer per
 * cluster, due when its oldest idle connection expires (sweeps at least this far apart): a cluster the native engine
 * serves (its pools stay empty) or one with nothing idle does not wake its thread, and one holding idle connections
 * wakes once per idle timeout, not once a second.
 */
const MIN_SWEEP_GAP_MS = 1000;

export class Cluster {
  readonly spec: ClusterSpec;
  readonly pools: readonly ConnectionPool[];
  /** "address:port" of each endpoint, made once (TCP sessions name their endpoint in stats and logs). */
  readonly endpointNames: readonly string[];
  private readonly balancer: WeightedRoundRobin;
  private sweepTimer: NodeJS.Timeout | null = null;

  constructor(spec: ClusterSpec) {
    this.spec = spec;
    this.pools = spec.endpoints.map((e) => new Pool(poolOptions(spec, e), this));
    this.endpointNames = spec.endpoints.map((e) => `${e.address}:${e.port}`);
    this.balancer = new WeightedRoundRobin(spec.endpoints.map((e) => e.weight));
  }

  get name(): string {
    return this.spec.name;
  }

  /** Picks an endpoint and asks its pool for a connection; returns the pool so the waiter can cancel. */
  acquire(waiter: PoolWaiter, fresh = false): ConnectionPool {
    const pool = this.pools[this.balancer.pick()] as ConnectionPool;
    pool.acquire(waiter, fresh);
    return pool;
  }

  /** The next endpoint by the cluster's load balancer (the one HTTP requests use too), as an index into spec.endpoints. */
  pickEndpoint(): number {
    return this.balancer.pick();
  }

  /**
   * IdleSweep: a connection went idle, due to expire one idle timeout from now. An armed sweep is due no later
   * (it was armed for a connection that went idle before), so only an unarmed one is armed.
   */
  connectionIdled(): void {
    if (this.sweepTimer === null) this.armSweep(this.spec.idleTimeoutMs);
  }

  /** Closes the idle connections that expired and arms the sweep for the oldest one left, if any. */
  sweep(): void {
    this.sweepTimer = null;
    const now = performance.now();
    let oldest = Number.POSITIVE_INFINITY;
    for (const pool of this.pools) {
      pool.sweepIdle(now);
      oldest = Math.min(oldest, pool.oldestIdleSinceMs);
    }
    if (oldest !== Number.POSITIVE_INFINITY) this.armSweep(Math.max(oldest + this.spec.idleTimeoutMs - now, MIN_SWEEP_GAP_MS));
  }

  close(): void {
    if (this.sweepTimer !== null) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    for (const pool of this.pools) pool.close();
  }

  private armSweep(ms: number): void {
    this.sweepTimer = setTimeout(sweepCluster, ms, this);
    // Never keeps a thread alive on its own.
    this.sweepTimer.unref();
  }
}

function poolOptions(spec: ClusterSpec, e: EndpointSpec): PoolOptions {
  return {
    host: e.address,
    port: e.port,
    connectTimeoutMs: spec.connectTimeoutMs,
    maxConnections: spec.maxConnectionsPerEndpoint,
    maxPendingRequests: spec.maxPendingRequestsPerEndpoint,
    idleTimeoutMs: spec.idleTimeoutMs,
    maxResponseHeadBytes: spec.maxResponseHeadBytes,
  };
}

function sweepCluster(cluster: Cluster): void {
  cluster.sweep();
}
