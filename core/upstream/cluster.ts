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

/** Idle sweeps only reclaim sockets; reuse is already refused past the idle timeout at acquire time. */
const SWEEP_INTERVAL_MS = 1000;

export class Cluster {
  readonly spec: ClusterSpec;
  readonly pools: readonly ConnectionPool[];
  /** "address:port" of each endpoint, made once (TCP sessions name their endpoint in stats and logs). */
  readonly endpointNames: readonly string[];
  private readonly balancer: WeightedRoundRobin;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(spec: ClusterSpec) {
    this.spec = spec;
    this.pools = spec.endpoints.map((e) => new Pool(poolOptions(spec, e)));
    this.endpointNames = spec.endpoints.map((e) => `${e.address}:${e.port}`);
    this.balancer = new WeightedRoundRobin(spec.endpoints.map((e) => e.weight));
    this.sweepTimer = setInterval(sweepPools, SWEEP_INTERVAL_MS, this.pools);
    this.sweepTimer.unref();
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

  close(): void {
    clearInterval(this.sweepTimer);
    for (const pool of this.pools) pool.close();
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

function sweepPools(pools: readonly ConnectionPool[]): void {
  const now = performance.now();
  for (const pool of pools) pool.sweepIdle(now);
}
