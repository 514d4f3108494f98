// Random exchanges through the real proxy, on every engine, on routes without filters and with request-side ones
// (a header set, a whole body scanned in the offload pool): clients that pipeline or not, split their requests at
// random bytes and moments, send bodies by length or chunked, HTTP/1.0, hop-by-hop fields, heads over 8 KiB (the
// native engine hands those to net) and malformed requests; an upstream that answers in random pieces, with
// interim responses, every framing, its own closes — or resets before answering, cuts a head or a body short, or
// sends a malformed head. Both ends read with Node's llhttp. What must hold: every request reaches the upstream
// as sent (minus hop-by-hop fields), every client gets its own response whole and in order or the failure the
// README promises, a cut never looks complete, nothing is left open, and no worker dies.
//
// A failure names its seed and connection. To replay one, or to run a longer campaign:
//   MANTOU_EXCHANGE_FUZZ_SEED=7 MANTOU_EXCHANGE_FUZZ_CONNECTIONS=3000 npm test -- test/integration/exchange-fuzz.test.ts
// and MANTOU_EXCHANGE_FUZZ_ONLY=12,40 runs those connections of the seed alone.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDump } from '../helpers/admin.ts';
import { edgeConfig } from '../helpers/configs.ts';
import { type ConnectionPlan, runConnection } from '../helpers/exchange-fuzz/fuzz-client.ts';
import { type PlannedUpstream, startPlannedUpstream } from '../helpers/exchange-fuzz/planned-upstream.ts';
import { type Capabilities, type ExchangePlan, exchangePlan } from '../helpers/exchange-fuzz/plans.ts';
import { seeded } from '../helpers/exchange-fuzz/random.ts';
import { type ProxyProcess, startProxy, testEngine } from '../helpers/proxy-process.ts';
import { rawExchange, statusOf } from '../helpers/raw-client.ts';
import { openDescriptors, openFds, waitFor } from '../helpers/tcp-peers.ts';

const SEED = Number(process.env.MANTOU_EXCHANGE_FUZZ_SEED ?? 1);
const CONNECTIONS = Number(process.env.MANTOU_EXCHANGE_FUZZ_CONNECTIONS ?? 300);
/** Connection numbers to run alone (comma-separated), to replay a failure. */
const ONLY = process.env.MANTOU_EXCHANGE_FUZZ_ONLY?.split(',').map(Number);
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
  const plain = 'filters: { headers: { disabled: true }, body-scan: { disabled: true } }';
  proxy = await startProxy(
    edgeConfig(
      [
        `{ match: { path: { prefix: /fz/ } }, cluster: fz, ${plain} }`,
        '{ match: { path: { prefix: /fzh/ } }, cluster: fz, filters: { body-scan: { disabled: true } } }',
        '{ match: { path: { prefix: /fzs/ } }, cluster: fz }',
        `{ cluster: fz, ${plain} }`,
      ],
      { fz: upstream.port },
      1,
      [
        'filters:',
        '  - { name: headers, config: { request: { set: { x-filtered: "yes" } } } }',
        '  - { name: body-scan, config: { patterns: ["^never-at-the-start"], maxBytes: 1048576, timeoutMs: 30000, maxQueue: 1000 } }',
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

function connectionPlans(): ConnectionPlan[] {
  const r = seeded(SEED);
  const out: ConnectionPlan[] = [];
  for (let c = 0; c < CONNECTIONS; c++) {
    const n = r.between(1, 5);
    const exchanges: ExchangePlan[] = [];
    for (let k = 0; k < n; k++) {
      const x = exchangePlan(r, `${SEED}-${c}-${k}`, caps, k === n - 1);
      plans.set(x.id, x);
      exchanges.push(x);
    }
    out.push({
      name: `seed ${SEED} connection ${c}`,
      exchanges,
      pipelined: caps.pipelining && r.chance(0.5),
      abortAfterMs: r.chance(0.05) ? r.int(30) : null,
      wholeRequestLines: !caps.splitRequestLines,
      closesWhenAsked: caps.closesWhenAsked,
    });
  }
  return out;
}

describe('random exchanges, well-formed and broken', () => {
  it(`keeps every exchange whole, in order and apart, and leaks nothing (seed ${SEED}, ${CONNECTIONS} connections)`, async () => {
    const connections = connectionPlans().filter((_, c) => ONLY === undefined || ONLY.includes(c));
    const violations: string[] = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let c = next++; c < connections.length; c = next++) {
        await runConnection(proxy.port('edge'), connections[c] as ConnectionPlan, seeded(SEED * 1_000_003 + c), violations);
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
    violations.push(...upstream.violations);

    // Closed by the upstream, the pooled connections must be closed by the proxy too: back to the idle count.
    upstream.dropConnections();
    await waitFor(() => openFds(proxy.pid) <= idleFds.size, 5000).catch(() => {
      // /dev/null: the runtime opens one the first time it needs it (on the uws engine), not a connection.
      const more = [...openDescriptors(proxy.pid)].filter(([fd, target]) => idleFds.get(fd) !== target && target !== '/dev/null');
      if (more.length === 0) return;
      violations.push(`the proxy holds descriptors it did not before: ${more.map(([fd, t]) => `${fd} ${t}`).join(', ')}`);
    });
    const dump = await configDump(proxy.adminPort);
    if (dump.counters.workerRestarts !== 0) violations.push(`${dump.counters.workerRestarts} worker restarts`);
    expect(violations.slice(0, 20)).toEqual([]);
  }, 120_000);
});
