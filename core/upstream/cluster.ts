// A named group of endpoints behind one load balancer, each endpoint with its own connection pool.

import { Sweeper } from '../util/sweeper.ts';
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
 * Idle sweeps only reclaim sockets; reuse is already refused past the idle timeout at acquire time. The sweep runs
 * only while some pool holds an idle connection: a cluster the native engine serves (its pools stay empty) or one
 * with nothing idle does not wake its thread.
 */
const SWEEP_INTERVAL_MS = 1000;

export class Cluster {
  readonly spec: ClusterSpec;
  readonly pools: readonly ConnectionPool[];
  /** "address:port" of each endpoint, made once (TCP sessions name their endpoint in stats and logs). */
  readonly endpointNames: readonly string[];
  private readonly balancer: WeightedRoundRobin;
  private readonly sweeper: Sweeper<Cluster>;

  constructor(spec: ClusterSpec) {
    this.spec = spec;
    this.sweeper = new Sweeper<Cluster>(SWEEP_INTERVAL_MS, this, sweepPools);
    this.pools = spec.endpoints.map((e) => new Pool(poolOptions(spec, e), this.sweeper));
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

  /** Nothing idle is left to sweep (a connection going idle starts the sweep again). */
  stopSweeping(): void {
    this.sweeper.stop();
  }

  close(): void {
    this.sweeper.stop();
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

function sweepPools(cluster: Cluster): void {
  const now = performance.now();
  let idle = 0;
  for (const pool of cluster.pools) {
    pool.sweepIdle(now);
    idle += pool.idleCount;
  }
  if (idle === 0) cluster.stopSweeping();
}
