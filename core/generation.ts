// A generation: everything one config version needs at run time in one thread — listeners with their
// routers and filter chains, and clusters with their pools. Built from a validated config by config/compile.

import type { HttpListenerContext } from './http/http-stream.ts';
import type { GenerationState } from './lifecycle.ts';
import type { TcpListenerContext } from './tcp/tcp-session.ts';
import type { Cluster } from './upstream/cluster.ts';

export interface HttpListenerRuntime {
  readonly protocol: 'http';
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly engine: 'net' | 'uws' | 'native';
  readonly maxRequestHeadersBytes: number;
  readonly context: HttpListenerContext;
}

export interface TcpListenerRuntime {
  readonly protocol: 'tcp';
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly context: TcpListenerContext;
  /** This listener's slot in the cross-worker session counts (the supervisor assigns it; stable across reloads). */
  readonly sessionSlot: number;
}

export type ListenerRuntime = HttpListenerRuntime | TcpListenerRuntime;

export interface Generation {
  readonly id: number;
  readonly listeners: readonly ListenerRuntime[];
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** Each cluster's definition as canonical JSON: an identical definition in the next generation reuses the pool. */
  readonly clusterKeys: ReadonlyMap<string, string>;
  readonly state: GenerationState;
}

/** Closes the clusters of `g` that `keep` does not share (idle pooled connections close at once). */
export function closeClustersNotIn(g: Generation, keep: Generation | null): void {
  for (const [name, c] of g.clusters) if (keep?.clusters.get(name) !== c) c.close();
}
