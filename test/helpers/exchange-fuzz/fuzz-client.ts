// The client of the exchange fuzz test: one connection to the proxy that sends its planned requests — pipelined
// in random pieces, or one after another's response — reads the answers with Node's own llhttp, and checks each
// against its plan: the upstream's response whole and in order, a local reply, a cut that does not look complete,
// and a close exactly where one may or must come. A request that says `Expect: 100-continue` may wait for the
// proxy's 100 before its body, as curl does: until it comes, or for a few milliseconds; a final response instead
// makes the client keep its body, and the proxy must then end the connection (README, Expect).

import net from 'node:net';
import { HTTPParser } from '../llhttp.ts';
import type { ExchangePlan } from './plans.ts';
import type { Random } from './random.ts';
import { writeInPieces } from './write-in-pieces.ts';

export interface ConnectionPlan {
  name: string;
  exchanges: ExchangePlan[];
  /** Send every request at once (in random pieces) instead of each after the previous response. */
  pipelined: boolean;
  /** Reset the connection after this many ms, whatever is happening: only the proxy's health is checked then. */
  abortAfterMs: number | null;
  /** Never cut a request line between writes (the uws engine's limit, README). Sequential connections only. */
  wholeRequestLines: boolean;
  /** False: a response that must end the connection may instead say `connection: close` (the uws engine's limit). */
  closesWhenAsked: boolean;
}

interface Seen {
  status: number;
  fields: Map<string, string>;
  body: Buffer[];
  complete: boolean;
}

/** Runs one connection; what went wrong goes to `violations`, one line each, named after the connection. */
export function runConnection(port: number, plan: ConnectionPlan, r: Random, violations: string[], deadlineMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const seen: Seen[] = [];
    let interim = false;
    let endedByUs = false;
    /** The request whose head went out alone and whose body waits for the proxy's 100 Continue. */
    let awaiting: AwaitedBody | null = null;
    /** The request whose body the client kept because a final response came first: nothing follows it. */
    let withheld: number | null = null;
    let finished = false;
    let sent = 0;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, {});
    let partial: string[] = [];
    parser[HTTPParser.kOnHeaders] = (fields: string[]) => {
      partial = [...partial, ...fields];
    };
    parser[HTTPParser.kOnHeadersComplete] = (_maj: number, _min: number, fields: string[] | undefined, _m: unknown, _u: unknown, status: number) => {
      const all = fields === undefined ? partial : [...partial, ...fields];
      partial = [];
      interim = status < 200;
      if (status === 100 && awaiting !== null) goAhead(awaiting);
      if (interim) return 0;
      if (awaiting !== null && !awaiting.due) {
        // The answer came first: the body stays with the client, which sends nothing more. (A 100 that came while
        // the head was still being written has the body follow it all the same.)
        withheld = awaiting.index;
        clearTimeout(awaiting.timer);
        awaiting = null;
      }
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < all.length; i += 2) map.set((all[i] as string).toLowerCase(), all[i + 1] as string);
      seen.push({ status, fields: map, body: [], complete: false });
      // A HEAD response has no body whatever its fields say.
      return plan.exchanges[seen.length - 1]?.method === 'HEAD' ? 1 : 0;
    };
    parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
      seen.at(-1)?.body.push(Buffer.from(chunk));
    };
    parser[HTTPParser.kOnMessageComplete] = () => {
      if (interim) {
        interim = false;
        return;
      }
      const last = seen.at(-1);
      if (last) last.complete = true;
      afterResponse();
    };

    const fail = (what: string) => violations.push(`${plan.name}: ${what}`);
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      if (plan.abortAfterMs === null) judge(plan, seen, !endedByUs, withheld, fail);
      resolve();
    };
    const deadline = setTimeout(() => {
      const waiting = withheld === null ? plan.exchanges[seen.filter((s) => s.complete).length]?.id : undefined;
      if (plan.abortAfterMs === null) fail(`hung after ${deadlineMs} ms waiting for ${waiting ?? 'the close'}`);
      endedByUs = true;
      socket.destroy();
      finish();
    }, deadlineMs);
    if (plan.abortAfterMs !== null)
      setTimeout(() => {
        endedByUs = true;
        socket.resetAndDestroy();
      }, plan.abortAfterMs);

    const write = (bytes: Buffer, then: () => void): void => {
      const sizes = r.pieces(bytes.length, 5);
      if (plan.wholeRequestLines) keepFirstLineWhole(sizes, bytes.indexOf('\r\n') + 2);
      writeInPieces(socket, bytes, sizes, r, then);
    };
    // An answer can come before its request is all sent (an early reply): the next request waits for the rest.
    let writing = false;
    let nextDue = false;
    const written = (): void => {
      writing = false;
      if (nextDue) {
        nextDue = false;
        sendNext();
      }
    };
    const sendNext = (): void => {
      if (writing) {
        nextDue = true;
        return;
      }
      const next = plan.exchanges[sent++];
      if (next === undefined || withheld !== null) return;
      writing = true;
      const waitMs = next.expectsContinue ? continueWait(r) : null;
      if (waitMs === null) {
        write(next.wire, written);
        return;
      }
      const a: AwaitedBody = { index: sent - 1, body: next.wire.subarray(next.headLength), headSent: false, due: false, timer: undefined };
      awaiting = a;
      write(next.wire.subarray(0, next.headLength), () => {
        a.headSent = true;
        if (a.due) goAhead(a);
        else if (awaiting === a && waitMs !== Number.POSITIVE_INFINITY) a.timer = setTimeout(goAhead, waitMs, a);
      });
    };
    // The 100 came, or the client waited long enough: the body goes (once its head is out).
    const goAhead = (a: AwaitedBody): void => {
      if (awaiting !== a) return;
      if (!a.headSent) {
        a.due = true;
        return;
      }
      clearTimeout(a.timer);
      awaiting = null;
      write(a.body, written);
    };
    // Once every response is complete: end the connection ourselves unless the proxy must end it.
    const afterResponse = (): void => {
      const done = seen.filter((s) => s.complete).length;
      if (withheld === null && done < plan.exchanges.length) {
        if (!plan.pipelined && done === sent) sendNext();
        return;
      }
      // After a kept body the proxy cannot read on to a next request: it must end the connection, as it must
      // after the last request's answer when that says so.
      const expect = plan.exchanges.at(-1)?.expect;
      const mustClose = withheld !== null || expect?.kind === 'rejected' || (expect?.kind === 'relayed' && expect.closes === 'must');
      if (mustClose && (plan.closesWhenAsked || !saysClose(seen.at(-1) as Seen))) return;
      // A moment for anything the proxy should not send.
      setTimeout(() => {
        endedByUs = true;
        socket.destroy();
        finish();
      }, 5);
    };

    socket.on('data', (d: Buffer) => {
      const e = parser.execute(d);
      if (e instanceof Error) {
        fail(`unparseable response bytes: ${e.message}`);
        endedByUs = true;
        socket.destroy();
      }
    });
    // A reset the socket reports as one leaves a close-delimited response cut; only an end completes it.
    let reset = false;
    socket.on('error', () => {
      reset = true;
    });
    socket.on('close', () => {
      if (!endedByUs && !reset) parser.finish();
      finish();
    });
    socket.on('connect', () => {
      // Pipelined requests go at once, bodies and all, whatever they expect.
      if (plan.pipelined) write(Buffer.concat(plan.exchanges.map((x) => x.wire)), () => {});
      else sendNext();
    });
  });
}

/** A request's body held back until the proxy's 100 Continue, or until the client's wait runs out. */
interface AwaitedBody {
  /** The request's place in the connection's plan. */
  index: number;
  body: Buffer;
  /** Its head is all written: the body may follow. */
  headSent: boolean;
  /** The go-ahead came while the head was still being written. */
  due: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * How long a client that sent `Expect: 100-continue` waits for the 100 before sending its body anyway: not at all
 * (as the fuzz did before), until the 100 or a final response comes (bounded by the connection's deadline), or a
 * few milliseconds (curl waits a second).
 */
function continueWait(r: Random): number | null {
  const roll = r.int(10);
  return roll < 3 ? null : roll < 8 ? Number.POSITIVE_INFINITY : r.between(1, 30);
}

/** A response in a line: its status, and a local reply's reason (its body). */
function described(s: Seen): string {
  const local = s.fields.get('x-mantou-local-reply');
  return local === undefined
    ? `${s.status} x-plan=${s.fields.get('x-plan')}`
    : `a local ${s.status} (${local}: ${bodyOf(s).toString('latin1').trim().slice(0, 80)})`;
}

function saysClose(s: Seen): boolean {
  return /\bclose\b/i.test(s.fields.get('connection') ?? '');
}

/** Joins the first pieces of `sizes` until the first one holds at least `n` bytes. */
function keepFirstLineWhole(sizes: number[], n: number): void {
  while (sizes.length > 1 && (sizes[0] as number) < n) sizes.splice(0, 2, (sizes[0] as number) + (sizes[1] as number));
}

function bodyOf(s: Seen): Buffer {
  return Buffer.concat(s.body);
}

/**
 * Holds the responses seen against the plan. `closedByProxy`: the connection ended from the proxy's side;
 * `withheld`: the request whose body the client kept because a final response came before any 100 Continue.
 */
function judge(plan: ConnectionPlan, seen: Seen[], closedByProxy: boolean, withheld: number | null, fail: (what: string) => void): void {
  let mayHaveClosed = false;
  for (let j = 0; j < plan.exchanges.length; j++) {
    const x = plan.exchanges[j] as ExchangePlan;
    const s = seen[j];
    const at = `request ${j} (${x.id} ${x.method || 'malformed'})`;
    if (s === undefined) {
      // A cut before the head was whole leaves a fragment the client cannot take for a response.
      const cutShort = x.expect.kind === 'cut' && j === seen.length;
      if (!(closedByProxy && (mayHaveClosed || cutShort))) fail(`${at} unanswered, the connection ${closedByProxy ? 'closed by the proxy' : 'still open'}`);
      return;
    }
    const e = x.expect;
    const local = s.fields.has('x-mantou-local-reply');
    if (e.kind === 'relayed') {
      if (s.status !== e.status || s.fields.get('x-plan') !== x.id) fail(`${at}: got ${described(s)}, expected the upstream's ${e.status}`);
      else if (!s.complete) fail(`${at}: the upstream's ${e.status} came incomplete (${bodyOf(s).length} of ${e.body.length} bytes)`);
      else if (!bodyOf(s).equals(e.body)) fail(`${at}: body of ${bodyOf(s).length} bytes unlike the upstream's ${e.body.length}`);
      for (const name of x.responseHopByHop) if (s.fields.has(name)) fail(`${at}: the client got hop-by-hop ${name}`);
      if (x.route === 'fzg' && s.fields.get('x-gated') !== 'yes') fail(`${at}: the response did not pass fuzz-gate's onResponse`);
      // A response that says it closes may be the last (the uws engine says so after some Connection fields).
      if (e.closes !== 'never' || saysClose(s)) mayHaveClosed = true;
      if (e.closes === 'must') mustEndHere(j, seen, closedByProxy || (!plan.closesWhenAsked && saysClose(s)), at, fail);
    } else if (e.kind === 'local') {
      if (s.status !== e.status || !local || !s.complete) fail(`${at}: got ${described(s)}${s.complete ? '' : ' incomplete'}, expected a local ${e.status}`);
      // One that says it closes may be the last, as above.
      if (!e.keepsOpen || saysClose(s)) mayHaveClosed = true;
    } else if (e.kind === 'cut') {
      // To an HTTP/1.0 client a body of unknown length ends with the connection, so only a reset can say it was
      // cut; libuv reports a reset that comes behind data as an end, so a Node client cannot tell (the net
      // engine's test of that reset reads the socket itself: test/net-engine/cut-close-delimited.test.ts).
      const unjudgeable = x.http10 && s.fields.get('content-length') === undefined;
      if (s.complete && (s.status !== e.local || !local) && !unjudgeable) fail(`${at}: a cut response looks complete (${s.status}, ${bodyOf(s).length} bytes)`);
      if (!s.complete && (s.status !== e.status || s.fields.get('x-plan') !== x.id))
        fail(`${at}: got ${s.status} incomplete, expected the upstream's ${e.status} cut`);
      if (!s.complete) mustEndHere(j, seen, closedByProxy, at, fail);
      mayHaveClosed = true;
    } else {
      if (s.status !== e.status || !s.complete) fail(`${at}: got ${s.status}${s.complete ? '' : ' incomplete'} for a malformed request, expected ${e.status}`);
      mustEndHere(j, seen, closedByProxy, at, fail);
    }
    if (j === withheld) {
      // The proxy answers Expect once the request goes upstream, so only its own replies may come before the 100.
      if (!local) fail(`${at}: got ${described(s)} before any 100 Continue, its body not sent`);
      mustEndHere(j, seen, closedByProxy || (!plan.closesWhenAsked && saysClose(s)), at, fail);
      mayHaveClosed = true;
    }
    if (!s.complete) return;
  }
  if (seen.length > plan.exchanges.length) fail(`${seen.length - plan.exchanges.length} responses more than requests`);
}

function mustEndHere(j: number, seen: Seen[], closedByProxy: boolean, at: string, fail: (what: string) => void): void {
  if (seen.length > j + 1) fail(`${at}: a response came after the one that ends the connection`);
  if (!closedByProxy) fail(`${at}: the connection stayed open after a response that ends it`);
}
