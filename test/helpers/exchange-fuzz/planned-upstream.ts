// The upstream of the exchange fuzz test: a raw TCP server that reads each request the proxy forwards with
// Node's own llhttp (an independent parser), checks it against the plan its target names — method, target,
// end-to-end fields as sent, no hop-by-hop field, the body byte for byte — and answers as the plan says, in
// random pieces at random moments.

import net from 'node:net';
import { HTTPParser, llhttpMethods } from '../llhttp.ts';
import type { ExchangePlan, Route } from './plans.ts';
import { type Random, seeded } from './random.ts';
import { writeInPieces } from './write-in-pieces.ts';

export interface PlannedUpstream {
  readonly port: number;
  /** A second port serving the same plans: a cluster of two endpoints is load-balanced over both. */
  readonly secondPort: number;
  /** What the proxy got wrong on the way upstream, one line each. */
  readonly violations: string[];
  /** Connections open right now. */
  readonly open: number;
  /** Plans whose request arrived (its head). */
  readonly arrived: ReadonlySet<string>;
  /** Plans the upstream answered (began to play its bytes). */
  readonly answered: ReadonlySet<string>;
  /** Resets every connection (the proxy should then close its side of them). */
  dropConnections(): void;
  close(): Promise<void>;
}

interface Arriving {
  plan: ExchangePlan | undefined;
  method: string;
  url: string;
  fields: string[];
  body: Buffer[];
  answered: boolean;
}

function hashOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Writes `bytes` in random pieces, each after a random pause, then ends as told. */
function play(socket: net.Socket, bytes: Buffer, ending: 'keep' | 'fin' | 'reset', r: Random): void {
  writeInPieces(socket, bytes, r.pieces(bytes.length, 4), r, () => {
    if (ending === 'fin') socket.end();
    else if (ending === 'reset') socket.resetAndDestroy();
  });
}

/** The routes without filters (plans.ts, Route). */
const UNFILTERED: ReadonlySet<Route> = new Set<Route>(['fz', 'fzt', 'fzl']);

function check(a: Arriving, violations: string[]): void {
  const plan = a.plan;
  if (plan === undefined) return;
  const fail = (what: string) => violations.push(`${plan.id}: upstream ${what}`);
  if (plan.upstream === null) fail('got a request the proxy was to answer itself');
  if (a.method !== plan.method) fail(`got method ${a.method}, sent ${plan.method}`);
  const names = new Map<string, string[]>();
  for (let i = 0; i + 1 < a.fields.length; i += 2) {
    const name = (a.fields[i] as string).toLowerCase();
    names.set(name, [...(names.get(name) ?? []), a.fields[i + 1] as string]);
  }
  if (names.get('host')?.join() !== 'fz.test') fail(`got host ${names.get('host')}`);
  for (const [name, value] of plan.fields)
    if (names.get(name)?.[0] !== value) fail(`got ${name}: ${JSON.stringify(names.get(name))}, sent ${JSON.stringify(value)}`);
  for (const name of plan.hopByHop) if (names.has(name)) fail(`got hop-by-hop ${name}`);
  // The filtered routes' `headers` filter sets it; the routes without filters have none.
  const filtered = names.get('x-filtered')?.join();
  if (filtered !== (UNFILTERED.has(plan.route) ? undefined : 'yes')) fail(`got x-filtered: ${filtered} on route ${plan.route}`);
  const body = Buffer.concat(a.body);
  if (!body.equals(plan.body)) fail(`got a body of ${body.length} bytes unlike the ${plan.body.length} sent`);
}

export async function startPlannedUpstream(plans: ReadonlyMap<string, ExchangePlan>): Promise<PlannedUpstream> {
  const violations: string[] = [];
  const sockets = new Set<net.Socket>();
  const attempts = new Map<string, number>();
  const arrived = new Set<string>();
  const answered = new Set<string>();

  const answer = (socket: net.Socket, a: Arriving): void => {
    const up = a.plan?.upstream;
    if (a.answered || up == null || a.plan === undefined) return;
    a.answered = true;
    answered.add(a.plan.id);
    const attempt = (attempts.get(a.plan.id) ?? 0) + 1;
    attempts.set(a.plan.id, attempt);
    // Each attempt (a retry is a second) plays its own pieces, the same ones on every replay of the seed.
    play(socket, up.wire, up.ending, seeded(hashOf(`${a.plan.id}#${attempt}`)));
  };

  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.REQUEST, {});
    let a: Arriving | null = null;
    let partial: { fields: string[]; url: string } = { fields: [], url: '' };
    parser[HTTPParser.kOnHeaders] = (fields: string[], url: string) => {
      partial = { fields: [...partial.fields, ...fields], url: partial.url + url };
    };
    parser[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, fields: string[] | undefined, method: number, url: string | undefined) => {
      const all = fields === undefined ? partial.fields : [...partial.fields, ...fields];
      const target = partial.url + (url ?? '');
      partial = { fields: [], url: '' };
      if (target === '/smuggled') violations.push('upstream got a smuggled request');
      a = {
        plan: plans.get(target.slice(target.lastIndexOf('/') + 1)),
        method: llhttpMethods[method] ?? '?',
        url: target,
        fields: all,
        body: [],
        answered: false,
      };
      if (a.plan !== undefined) arrived.add(a.plan.id);
      if (a.plan?.upstream?.atHead) answer(socket, a);
      return 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
      a?.body.push(Buffer.from(chunk));
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      if (a === null) return;
      check(a, violations);
      answer(socket, a);
    };
    socket.on('data', (d: Buffer) => {
      const r = parser.execute(d);
      if (r instanceof Error) {
        violations.push(`upstream could not parse what the proxy sent: ${r.message}`);
        socket.destroy();
      }
    });
  };
  const server = net.createServer(onConnection);
  const second = net.createServer(onConnection);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => second.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    secondPort: (second.address() as net.AddressInfo).port,
    violations,
    arrived,
    answered,
    get open() {
      return sockets.size;
    },
    dropConnections() {
      for (const s of sockets) s.resetAndDestroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        second.close();
        server.close(() => r());
      }),
  };
}
