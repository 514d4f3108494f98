// Random exchanges through the real proxy, on every engine, on routes without filters and with filters (a header
// set, a whole body scanned in the offload pool, a gate that pauses or answers 403 and marks every response head, a
// response body filter that makes the proxy frame the response itself, bodies asked for whole up to a limit (413
// above) with responses replaced in onResponse, promises in both body phases, a route timeout met by an upstream
// that stalls, and a cluster of two endpoints; plans.ts, Route): clients that pipeline or
// not, split their requests at random bytes and moments, send bodies by length or chunked, wait for the proxy's
// 100 Continue before a body (or not, or briefly) and keep it if a final answer comes first, HTTP/1.0, hop-by-hop
// fields, heads over 8 KiB (the native engine hands those to net) and malformed requests; an upstream that answers
// in random pieces, with interim responses, every framing, its own closes, sometimes as soon as the head arrives —
// or resets before answering, cuts a head or a body short, or sends a malformed head. Both ends read with Node's
// llhttp. What must hold: every request reaches the upstream as sent (minus hop-by-hop fields), a denied one not at
// all, every client gets its own response whole and in order or the failure the README promises, a cut never looks
// complete, nothing is left open, and no worker dies. A second campaign runs through config reloads (SIGHUP) and
// must lose nothing to them.
//
// A failure names its seed and connection. To replay one, or to run a longer campaign:
//   MANTOU_EXCHANGE_FUZZ_SEED=7 MANTOU_EXCHANGE_FUZZ_CONNECTIONS=3000 npm test -- test/integration/exchange-fuzz.test.ts
// and MANTOU_EXCHANGE_FUZZ_ONLY=12,40 runs those connections of the seed alone; MANTOU_EXCHANGE_FUZZ_REPEAT=50
// runs each of them 50 times, CONCURRENCY at once (a failure that needs a loaded machine to show).

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { configDump } from '../helpers/admin.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { type ConnectionPlan, runConnection } from '../helpers/exchange-fuzz/fuzz-client.ts';
import { type PlannedUpstream, startPlannedUpstream } from '../helpers/exchange-fuzz/planned-upstream.ts';
import { type Capabilities, type ExchangePlan, exchangePlan, ROUTE_TIMEOUT_MS, WHOLE_BODY_LIMIT } from '../helpers/exchange-fuzz/plans.ts';
import { seeded } from '../helpers/exchange-fuzz/random.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { openDescriptors, openFds, waitFor } from '../helpers/tcp-peers.ts';

const fixture = (name: string) => new URL(`../fixtures/filters/${name}.ts`, import.meta.url).pathname;

const SEED = Number(process.env.MANTOU_EXCHANGE_FUZZ_SEED ?? 1);
const CONNECTIONS = Number(process.env.MANTOU_EXCHANGE_FUZZ_CONNECTIONS ?? 300);
/** Connection numbers to run alone (comma-separated), to replay a failure. */
const ONLY = process.env.MANTOU_EXCHANGE_FUZZ_ONLY?.split(',').map(Number);
/** How often each connection runs (with ONLY, to replay a failure that shows only under load). */
const REPEAT = Number(process.env.MANTOU_EXCHANGE_FUZZ_REPEAT ?? 1);
/** Connections at once: a pooled upstream connection then passes between clients' exchanges. */
const CONCURRENCY = Number(process.env.MANTOU_EXCHANGE_FUZZ_CONCURRENCY ?? 6);

// uWS refuses HTTP/1.0, chunk extensions and trailers, answers some malformed requests by a timeout, closes a
// pipelining connection, drops obs-text at the end of a value, answers some request lines cut between reads
// with 505, and leaves most closes a client asks for to the client (README: the uws engine's known limits).
const onUws = testEngine() === 'uws';
const caps: Capabilities = {
  pipelining: !onUws,
  http10: !onUws,
  chunkExtras: !onUws,
  rejections: !onUws,
  obsText: !onUws,
  splitRequestLines: !onUws,
  closesWhenAsked: !onUws,
};

const plans = new Map<string, ExchangePlan>();
let upstream: PlannedUpstream;
let proxy: ProxyProcess;
let idleFds: Map<string, string>;

beforeAll(async () => {
  upstream = await startPlannedUpstream(plans);
  // Routes with and without request-side filters (plans.ts, Route); the catch-all serves the malformed requests
  // whose error is in the body, as a route would. The scan's deadline and queue are generous: a 503 from a busy
  // machine's pool is not what this test looks for.
  const FILTERS = ['headers', 'body-scan', 'gate', 'reframe', 'whole', 'pace'];
  const only = (...names: string[]) =>
    `filters: { ${FILTERS.filter((n) => !names.includes(n))
      .map((n) => `${n}: { disabled: true }`)
      .join(', ')} }`;
  proxy = await startProxy(
    edgeConfig(
      [
        `{ match: { path: { prefix: /fz/ } }, cluster: fz, ${only()} }`,
        `{ match: { path: { prefix: /fzh/ } }, cluster: fz, ${only('headers')} }`,
        `{ match: { path: { prefix: /fzs/ } }, cluster: fz, ${only('headers', 'body-scan')} }`,
        `{ match: { path: { prefix: /fzg/ } }, cluster: fz, ${only('headers', 'gate')} }`,
        `{ match: { path: { prefix: /fzb/ } }, cluster: fz, ${only('headers', 'reframe')} }`,
        `{ match: { path: { prefix: /fzw/ } }, cluster: fz, ${only('headers', 'whole')} }`,
        `{ match: { path: { prefix: /fzp/ } }, cluster: fz, ${only('headers', 'pace')} }`,
        `{ match: { path: { prefix: /fzt/ } }, cluster: fz, timeoutMs: ${ROUTE_TIMEOUT_MS}, ${only()} }`,
        `{ match: { path: { prefix: /fzl/ } }, cluster: fz2, ${only()} }`,
        `{ cluster: fz, ${only()} }`,
      ],
      { fz: upstream.port, fz2: { port: upstream.port, morePorts: [upstream.secondPort] } },
      1,
      [
        'filters:',
        '  - { name: headers, config: { request: { set: { x-filtered: "yes" } } } }',
        '  - { name: body-scan, config: { patterns: ["^never-at-the-start"], maxBytes: 1048576, timeoutMs: 30000, maxQueue: 1000 } }',
        `  - { name: gate, module: ${fixture('fuzz-gate')} }`,
        `  - { name: reframe, module: ${fixture('fuzz-reframe')} }`,
        `  - { name: whole, module: ${fixture('fuzz-whole')}, config: { maxBytes: ${WHOLE_BODY_LIMIT} } }`,
        `  - { name: pace, module: ${fixture('fuzz-pace')} }`,
      ],
    ),
  );
  // One scanned upload first: the offload pool's thread (its own event loop's descriptors) starts on first use.
  plans.set('warm-up', {
    id: 'warm-up',
    route: 'fzs',
    method: 'POST',
    path: '/fzs/warm-up',
    http10: false,
    wire: Buffer.alloc(0),
    headLength: 0,
    expectsContinue: false,
    body: Buffer.from('warm'),
    fields: [],
    hopByHop: [],
    responseHopByHop: [],
    upstream: { wire: Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'), ending: 'keep', atHead: false },
    expect: { kind: 'relayed', status: 204, body: Buffer.alloc(0), closes: 'never' },
  });
  const warm = await rawExchange(proxy.port('edge'), 'POST /fzs/warm-up HTTP/1.1\r\nHost: fz.test\r\nContent-Length: 4\r\nConnection: close\r\n\r\nwarm');
  if (statusOf(warm.data) !== 204) throw new Error(`warm-up answered ${warm.data.slice(0, 200)}`);
  idleFds = openDescriptors(proxy.pid);
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

/** The seed's connections; `prefix` keeps a second campaign's plan ids apart from the first's. */
function connectionPlans(seed: number, count: number, prefix = ''): ConnectionPlan[] {
  const r = seeded(seed);
  const out: ConnectionPlan[] = [];
  for (let c = 0; c < count; c++) {
    const n = r.between(1, 5);
    const exchanges: ExchangePlan[] = [];
    for (let k = 0; k < n; k++) {
      const x = exchangePlan(r, `${prefix}${seed}-${c}-${k}`, caps, k === n - 1);
      plans.set(x.id, x);
      exchanges.push(x);
    }
    out.push({
      name: `${prefix === '' ? '' : `${prefix} `}seed ${seed} connection ${c}`,
      exchanges,
      pipelined: caps.pipelining && r.chance(0.5),
      abortAfterMs: r.chance(0.05) ? r.int(30) : null,
      wholeRequestLines: !caps.splitRequestLines,
      closesWhenAsked: caps.closesWhenAsked,
    });
  }
  return out;
}

/** Runs the connections, CONCURRENCY at once; returns what went wrong, the upstream's findings included. */
async function campaign(seed: number, all: ConnectionPlan[]): Promise<string[]> {
  // Each keeps its own number, which seeds its client's pieces and pauses: a replay writes as the original did.
  const numbers = [...all.keys()].filter((c) => ONLY === undefined || ONLY.includes(c)).flatMap((c) => Array<number>(REPEAT).fill(c));
  const violations: string[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < numbers.length; i = next++) {
      const c = numbers[i] as number;
      await runConnection(proxy.port('edge'), all[c] as ConnectionPlan, seeded(seed * 1_000_003 + c), violations);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  // Where a hung exchange stopped: before the upstream, or after.
  for (let i = 0; i < violations.length; i++) {
    const id = /hung after \d+ ms waiting for (\S+)$/.exec(violations[i] as string)?.[1];
    if (id === undefined || !plans.has(id)) continue;
    violations[i] += upstream.answered.has(id)
      ? ' (the upstream answered it)'
      : upstream.arrived.has(id)
        ? ' (the upstream got its head only)'
        : ' (it never reached the upstream)';
  }
  violations.push(...upstream.violations.splice(0));
  return violations;
}

/** Nothing left behind: the pooled connections closed once the upstream closes them, and no worker restarted. */
async function leftBehind(violations: string[]): Promise<void> {
  upstream.dropConnections();
  await waitFor(() => openFds(proxy.pid) <= idleFds.size, 5000).catch(() => {
    // /dev/null: the runtime opens one the first time it needs it (on the uws engine), not a connection.
    const more = [...openDescriptors(proxy.pid)].filter(([fd, target]) => idleFds.get(fd) !== target && target !== '/dev/null');
    if (more.length === 0) return;
    violations.push(`the proxy holds descriptors it did not before: ${more.map(([fd, t]) => `${fd} ${t}`).join(', ')}`);
  });
  const dump = await configDump(proxy.adminPort);
  if (dump.counters.workerRestarts !== 0) violations.push(`${dump.counters.workerRestarts} worker restarts`);
}

/**
 * The first violations, how many more there were (a replay with REPEAT counts how often it fails) and the last
 * five (the findings after the campaign: descriptors, restarts, reload failures), then the proxy's last warnings
 * and errors: a run once failed with every connection after one point closed unanswered, and nothing said why.
 */
function firstOf(violations: string[]): string[] {
  if (violations.length === 0) return violations;
  const more = violations.length - 25;
  const shown = more > 0 ? [...violations.slice(0, 20), `... ${more} more ...`, ...violations.slice(-5)] : [...violations];
  const complaints = proxy
    .output()
    .split('\n')
    .filter((line) => /"level":(?:40|50|60)\b/.test(line));
  if (complaints.length > 0) shown.push("the proxy's last warnings and errors:", ...complaints.slice(-10));
  return shown;
}

/**
 * The config with its routes but the catch-all in the opposite order (their prefixes do not overlap), and body-scan
 * looking for another pattern that matches nothing.
 */
function variantOf(text: string): string {
  const doc = YAML.parseDocument(text);
  const routes = doc.getIn(['listeners', 0, 'routes']);
  if (!YAML.isSeq(routes)) throw new Error('no routes in the config');
  const catchAll = routes.items.pop();
  routes.items.reverse();
  routes.items.push(catchAll);
  const filters = doc.getIn(['listeners', 0, 'filters']);
  if (!YAML.isSeq(filters)) throw new Error('no filters in the config');
  for (const f of filters.items) if (YAML.isMap(f) && f.get('name') === 'body-scan') f.setIn(['config', 'patterns'], ['^never-here-either']);
  return doc.toString();
}

/** How often the reload campaign reloads the config (SIGHUP), and how many connections it runs. */
const RELOAD_EVERY_MS = 200;
const RELOAD_CONNECTIONS = Math.max(1, Math.round(CONNECTIONS / 2));

describe('random exchanges, well-formed and broken', () => {
  it(`keeps every exchange whole, in order and apart, and leaks nothing (seed ${SEED}, ${CONNECTIONS} connections)`, async () => {
    const violations = await campaign(SEED, connectionPlans(SEED, CONNECTIONS));
    await leftBehind(violations);
    expect(firstOf(violations)).toEqual([]);
  }, 120_000);

  it(`loses nothing to config reloads in the middle of it (seed ${SEED}, ${RELOAD_CONNECTIONS} connections, SIGHUP every ${RELOAD_EVERY_MS} ms)`, async () => {
    // Each reload is a new generation that does what the last one did (a comment differs, so the file does too;
    // every other one also lists the routes in the opposite order and scans for another pattern that matches
    // nothing): exchanges in flight finish on the one they began in, kept decisions are dropped, every filter is
    // created anew, and every exchange must still come out as the plan says.
    const before = await configDump(proxy.adminPort);
    const text = readFileSync(proxy.configFile, 'utf8');
    const variant = variantOf(text);
    let reloads = 0;
    const reload = (): void => {
      // Written beside it and renamed over it, as deploy tools do: a SIGHUP still being handled must never read a
      // half-written file (that reload would fail, rightly keeping the previous config, and the test with it).
      writeFileSync(`${proxy.configFile}.next`, `${reloads % 2 === 0 ? text : variant}\n# reload ${++reloads}\n`);
      renameSync(`${proxy.configFile}.next`, proxy.configFile);
      proxy.child.kill('SIGHUP');
    };
    // One at once: a short campaign (a replay of one connection) is reloaded too.
    reload();
    const timer = setInterval(reload, RELOAD_EVERY_MS);
    let violations: string[];
    try {
      violations = await campaign(SEED, connectionPlans(SEED, RELOAD_CONNECTIONS, 'r'));
    } finally {
      clearInterval(timer);
    }
    // Reloads coalesce: wait for the last one to be applied everywhere (the generation holding still).
    let generation = -1;
    await waitFor(async () => {
      await new Promise((r) => setTimeout(r, 300));
      const d = await configDump(proxy.adminPort);
      const settled = d.generation === generation && d.workers.every((w) => w.generation === d.generation);
      generation = d.generation;
      return settled;
    }, 10_000);
    const after = await configDump(proxy.adminPort);
    if (after.counters.reloadFailures !== before.counters.reloadFailures) violations.push(`reload failures: ${after.lastReloadError?.message}`);
    if (after.counters.reloads === before.counters.reloads) violations.push('no reload happened');
    await leftBehind(violations);
    expect(firstOf(violations)).toEqual([]);
  }, 120_000);
});
