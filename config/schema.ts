// The configuration schema (TypeBox): validated at load, printed by `mantou config schema` as JSON Schema for
// editors, and the source of the Config type. Defaults live in `defaults` below and are applied at compile time.

import { type Static, Type as T } from '@sinclair/typebox';

const strict = { additionalProperties: false } as const;

const NonEmpty = T.String({ minLength: 1 });
const ListenPort = T.Integer({ minimum: 0, maximum: 65535, description: '0 picks a free port (logged at start)' });
const Port = T.Integer({ minimum: 1, maximum: 65535 });
const Millis = T.Integer({ minimum: 1, maximum: 86_400_000 });
const StringMap = T.Record(T.String(), T.String());

const HeaderRules = T.Object(
  {
    add: T.Optional(T.Record(T.String(), T.String(), { description: 'appended (kept alongside existing values)' })),
    set: T.Optional(T.Record(T.String(), T.String(), { description: 'replaces any existing values' })),
    remove: T.Optional(T.Array(NonEmpty)),
  },
  strict,
);

const HeaderMatch = T.Object(
  {
    name: NonEmpty,
    exact: T.Optional(T.String()),
    prefix: T.Optional(T.String()),
    regex: T.Optional(T.String({ description: 'matches the whole value' })),
    present: T.Optional(T.Boolean()),
  },
  strict,
);

const PathMatch = T.Object(
  {
    exact: T.Optional(T.String({ pattern: '^/' })),
    prefix: T.Optional(T.String({ pattern: '^/' })),
    regex: T.Optional(T.String({ description: 'matches the whole path' })),
  },
  strict,
);

const StringOrList = T.Union([NonEmpty, T.Array(NonEmpty, { minItems: 1 })]);

const RouteMatch = T.Object(
  {
    host: T.Optional(StringOrList),
    path: T.Optional(PathMatch),
    method: T.Optional(StringOrList),
    headers: T.Optional(T.Array(HeaderMatch)),
  },
  strict,
);

const DirectResponse = T.Object(
  {
    status: T.Integer({ minimum: 200, maximum: 599 }),
    headers: T.Optional(StringMap),
    body: T.Optional(T.String()),
  },
  strict,
);

const FilterName = T.String({ pattern: '^[a-z][a-z0-9-]*$', description: 'kebab-case; names the filter in routes, logs and x-mantou-local-reply' });

const ListenerFilter = T.Object(
  {
    name: FilterName,
    module: T.Optional(
      T.String({
        minLength: 1,
        description: 'a TypeScript or JavaScript module, relative to this file, default-exporting defineFilter(...); without it, a built-in filter',
      }),
    ),
    config: T.Optional(T.Unknown({ description: "the filter's options, checked against its own schema" })),
  },
  strict,
);

const RouteFilterOverride = T.Object(
  {
    disabled: T.Optional(T.Boolean({ description: 'the filter does not run on this route' })),
    config: T.Optional(T.Unknown({ description: "replaces the listener's options for this route" })),
  },
  strict,
);

const Route = T.Object(
  {
    name: T.Optional(NonEmpty),
    match: T.Optional(RouteMatch),
    cluster: T.Optional(NonEmpty),
    directResponse: T.Optional(DirectResponse),
    prefixRewrite: T.Optional(T.String({ pattern: '^/' })),
    hostRewrite: T.Optional(NonEmpty),
    timeoutMs: T.Optional(Millis),
    requestHeaders: T.Optional(HeaderRules),
    responseHeaders: T.Optional(HeaderRules),
    filters: T.Optional(T.Record(FilterName, RouteFilterOverride, { description: "per-route overrides of the listener's filters, by name" })),
  },
  strict,
);

const ListenerTimeouts = T.Object(
  {
    headerMs: T.Optional(
      T.Integer({ minimum: 1, maximum: 86_400_000, description: 'net engine: time to receive a request head (408 and close); nginx client_header_timeout' }),
    ),
    idleMs: T.Optional(
      T.Integer({
        minimum: 1,
        maximum: 86_400_000,
        description: 'net engine: keep-alive connection idle between requests (nginx keepalive_timeout); tcp: a session with no bytes either way',
      }),
    ),
    bodyMs: T.Optional(
      T.Integer({ minimum: 1, maximum: 86_400_000, description: 'net engine: longest gap between two reads of a request body; nginx client_body_timeout' }),
    ),
    requestMs: T.Optional(
      T.Integer({
        minimum: 0,
        maximum: 86_400_000,
        description: 'net engine: time to receive a whole request, head and body; 0 disables (Envoy request_timeout)',
      }),
    ),
    tunnelIdleMs: T.Optional(
      T.Integer({ minimum: 1, maximum: 86_400_000, description: 'net engine: an upgraded (WebSocket) connection with no bytes either way' }),
    ),
    maxSessionMs: T.Optional(
      T.Integer({ minimum: 1, maximum: 604_800_000, description: 'tcp: a session is closed this long after it started (default: never)' }),
    ),
  },
  strict,
);

const Listener = T.Object(
  {
    name: NonEmpty,
    address: T.Optional(NonEmpty),
    port: ListenPort,
    protocol: T.Optional(T.Union([T.Literal('http'), T.Literal('tcp')], { description: 'http (default): routes; tcp: sessions to `cluster`' })),
    engine: T.Optional(
      T.Union([T.Literal('net'), T.Literal('uws'), T.Literal('native')], { description: 'downstream HTTP engine (see README: choosing an engine)' }),
    ),
    maxRequestHeadersBytes: T.Optional(T.Integer({ minimum: 1024, maximum: 1_048_576 })),
    maxRequestUriBytes: T.Optional(T.Integer({ minimum: 256, maximum: 1_048_576, description: 'net engine: longer request targets get 414' })),
    maxRequestHeaders: T.Optional(T.Integer({ minimum: 1, maximum: 10_000, description: 'net engine: more header fields get 431' })),
    upgrades: T.Optional(T.Array(NonEmpty, { description: 'net engine: Upgrade protocols tunnelled (default [websocket]); others are ignored' })),
    timeouts: T.Optional(ListenerTimeouts),
    filters: T.Optional(T.Array(ListenerFilter, { description: 'the filter chain: request phases in this order, response phases in reverse' })),
    routes: T.Optional(T.Array(Route, { minItems: 1, description: 'http: required' })),
    cluster: T.Optional(NonEmpty),
    maxConnectAttempts: T.Optional(
      T.Integer({ minimum: 1, maximum: 10, description: 'tcp: upstream connection attempts per session, each on an endpoint not tried yet while one is left' }),
    ),
    accessLog: T.Optional(T.Boolean({ description: 'tcp: one access-log line per session (default true)' })),
  },
  strict,
);

const Endpoint = T.Object(
  {
    address: NonEmpty,
    port: Port,
    weight: T.Optional(T.Integer({ minimum: 1, maximum: 1000 })),
  },
  strict,
);

const Cluster = T.Object(
  {
    name: NonEmpty,
    endpoints: T.Array(Endpoint, { minItems: 1 }),
    connectTimeoutMs: T.Optional(Millis),
    maxConnectionsPerEndpoint: T.Optional(T.Integer({ minimum: 1, maximum: 1_000_000 })),
    maxPendingRequestsPerEndpoint: T.Optional(T.Integer({ minimum: 0, maximum: 1_000_000 })),
    idleTimeoutMs: T.Optional(Millis),
    maxResponseHeadersBytes: T.Optional(T.Integer({ minimum: 1024, maximum: 1_048_576 })),
  },
  strict,
);

const Admin = T.Object(
  {
    address: T.Optional(T.String({ minLength: 1, description: 'default 127.0.0.1; mutating endpoints only answer loopback peers' })),
    port: T.Optional(ListenPort),
    headerTimeoutMs: T.Optional(
      T.Integer({
        minimum: 1,
        maximum: 600_000,
        description: "default 10000: how long a connection has to send a request's complete headers (408 and close after)",
      }),
    ),
  },
  strict,
);

const Drain = T.Object(
  {
    delayMs: T.Optional(T.Integer({ minimum: 0, maximum: 600_000, description: 'time between failing /ready and closing listeners' })),
    timeoutMs: T.Optional(T.Integer({ minimum: 0, maximum: 3_600_000, description: 'longest wait for in-flight streams' })),
  },
  strict,
);

export const ConfigSchema = T.Object(
  {
    admin: T.Optional(Admin),
    workers: T.Optional(T.Union([T.Literal('auto'), T.Integer({ minimum: 1, maximum: 256 })])),
    workerHeapMb: T.Optional(T.Integer({ minimum: 64, maximum: 65_536, description: 'per-worker V8 old-space limit' })),
    busyPollUs: T.Optional(
      T.Integer({
        minimum: 0,
        maximum: 1000,
        description: 'after I/O, each worker polls this long (µs) before its event loop sleeps: lower latency per hop, more CPU (0: off)',
      }),
    ),
    drain: T.Optional(Drain),
    watchConfig: T.Optional(
      T.Boolean({ description: 'reload by itself when this file changes (checked each second; a ConfigMap update included), as SIGHUP does' }),
    ),
    listeners: T.Array(Listener, { minItems: 1 }),
    clusters: T.Optional(T.Array(Cluster)),
  },
  { ...strict, $id: 'https://mantou.dev/schema/config.json', title: 'Mantou configuration' },
);

export type Config = Static<typeof ConfigSchema>;
export type ListenerConfig = Static<typeof Listener>;
export type RouteConfig = Static<typeof Route>;
export type ClusterConfig = Static<typeof Cluster>;
export type HeaderRulesConfig = Static<typeof HeaderRules>;
export type ListenerFilterConfig = Static<typeof ListenerFilter>;

/** Defaults, chosen to match what Envoy and nginx users expect; documented in the README. */
export const defaults = Object.freeze({
  listenerAddress: '0.0.0.0',
  /** uWS's own default (4 KiB) is too small for JWTs and cookies. */
  maxRequestHeadersBytes: 16_384,
  engine: 'native' as 'net' | 'uws' | 'native',
  /** nginx's large_client_header_buffers (8 KiB) bounds a request line the same way. */
  maxRequestUriBytes: 8_192,
  /** Envoy's max_headers_count. */
  maxRequestHeaders: 100,
  upgrades: ['websocket'] as readonly string[],
  /** nginx: client_header_timeout 60 s, keepalive_timeout 75 s, client_body_timeout 60 s; no total by default. */
  headerTimeoutMs: 60_000,
  idleTimeoutMsDownstream: 75_000,
  bodyTimeoutMs: 60_000,
  requestTimeoutMs: 0,
  tunnelIdleTimeoutMs: 3_600_000,
  /** Envoy's tcp_proxy idle_timeout default. */
  tcpIdleTimeoutMs: 3_600_000,
  /** HAProxy's `retries 3`: the first attempt and up to two more. */
  maxConnectAttempts: 3,
  /** Envoy's route timeout default. */
  routeTimeoutMs: 15_000,
  connectTimeoutMs: 5_000,
  maxConnectionsPerEndpoint: 1024,
  maxPendingRequestsPerEndpoint: 1024,
  /** Below Node's 5 s keep-alive so a pooled socket is never reused as the server closes it. */
  idleTimeoutMs: 4_000,
  maxResponseHeadersBytes: 65_536,
  /** Request body held per stream while no upstream connection is ready, before the client is paused. */
  maxBufferedRequestBytes: 65_536,
  adminAddress: '127.0.0.1',
  adminPort: 9901,
  adminHeaderTimeoutMs: 10_000,
  workerHeapMb: 1024,
  /** No busy polling: an idle worker sleeps, as nginx's and Envoy's do. */
  busyPollUs: 0,
  /** Envoy-like: fail /ready, then give load balancers a moment before refusing connections. */
  drainDelayMs: 0,
  drainTimeoutMs: 30_000,
});
