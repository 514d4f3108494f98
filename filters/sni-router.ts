// `sni-router`: TLS passthrough routed by the server name in the client's ClientHello (read, never terminated or
// changed). Names match exactly or as `*.suffix` (one or more labels), case-insensitively; the first matching
// route wins. No match (or no SNI): `defaultCluster`, else the listener's `cluster`, else the session is reset
// (`no_route`). A client that sends no complete ClientHello within `timeoutMs` is reset (`preface_timeout`);
// bytes that are not TLS are reset (`not_tls`) or, with `nonTls: default`, sent to the default.

import { NEED_MORE, readClientHello } from '../core/tcp/tls-client-hello.ts';
import { closeSession, defineConnectionFilter, MORE_BYTES, T } from './api.ts';

const Options = T.Object(
  {
    routes: T.Array(
      T.Object(
        {
          serverNames: T.Array(T.String({ minLength: 1 }), { minItems: 1, description: 'exact names or *.suffix wildcards' }),
          cluster: T.String({ minLength: 1 }),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    defaultCluster: T.Optional(T.String({ minLength: 1, description: "no match or no SNI; without it, the listener's cluster" })),
    timeoutMs: T.Integer({ minimum: 1, maximum: 600_000, default: 5_000, description: 'wait for a whole ClientHello' }),
    nonTls: T.Union([T.Literal('reject'), T.Literal('default')], { default: 'reject' }),
  },
  { additionalProperties: false },
);

const NO_ROUTE = closeSession('no_route');
const NOT_TLS = closeSession('not_tls');

export default defineConnectionFilter({
  name: 'sni-router',
  config: Options,
  create(o, env) {
    const exact = new Map<string, string>();
    const suffixes: [string, string][] = [];
    for (const r of o.routes) {
      if (!env.clusterNames.has(r.cluster)) throw new Error(`unknown cluster "${r.cluster}"`);
      for (const raw of r.serverNames) {
        const name = raw.toLowerCase();
        if (name.startsWith('*.')) suffixes.push([name.slice(1), r.cluster]);
        else if (!exact.has(name)) exact.set(name, r.cluster);
      }
    }
    if (o.defaultCluster !== undefined && !env.clusterNames.has(o.defaultCluster)) throw new Error(`unknown cluster "${o.defaultCluster}"`);
    const clusterFor = (name: string | null): string | undefined => {
      if (name === null) return undefined;
      const hit = exact.get(name);
      if (hit !== undefined) return hit;
      for (const [suffix, cluster] of suffixes) if (name.endsWith(suffix) && name.length > suffix.length) return cluster;
      return undefined;
    };
    return {
      prefaceTimeoutMs: o.timeoutMs,
      onPreface(bytes, session) {
        const hello = readClientHello(bytes);
        if (hello === NEED_MORE) return MORE_BYTES;
        let cluster: string | undefined;
        if (typeof hello === 'string') {
          if (o.nonTls === 'reject') return NOT_TLS;
        } else {
          if (hello.serverName !== null) session.attributes.set('sni', hello.serverName);
          cluster = clusterFor(hello.serverName);
        }
        cluster ??= o.defaultCluster ?? (session.clusterName === '' ? undefined : session.clusterName);
        if (cluster === undefined) return NO_ROUTE;
        session.clusterName = cluster;
      },
    };
  },
});
