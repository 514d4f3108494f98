// A request on a route whose filters the native engine can run (FilterChain.nativeCapable): C keeps the client's
// connection and holds the exchange (native/h1-park.c) while this runs the chain; then C gathers the body (into
// pooled shared memory, for filters that want it whole), forwards the request with the head the filters left
// (onUpstreamRequest runs just before), or writes a filter's reply. When the route has onResponse hooks (filters
// that answer them at once), C hands the response head here between reading and writing it
// (native/h1-response.c), and local replies pass them too. The addon's report of the exchange's end (done(): the
// status sent and its failure) runs the onDone hooks.
// Nothing of it goes through the `net` engine, whose per-request and per-chunk work on a 1 MiB upload cost the
// worker's other requests their p99 (docs/offload-measurements.md), and whose per-request cost is some 10 µs more
// (README, Filters). The chain's semantics are the net engine's: the same head edits, the same X-Forwarded-* and
// x-request-id, the same local replies (through the response phases of the filters that ran), 413 over a filter's
// body limit, 500 naming a failed filter.

import { ErrorKinds } from '../errors.ts';
import { offloadForFilter } from '../offload/offload-pool.ts';
import { requestHeadText } from '../upstream/request-encoder.ts';
import { allocBodyBuffer, releaseBodyBuffer } from '../util/body-buffer-pool.ts';
import { type BodyDirection, BodyFlow, type BodyFlowSink } from './body-flow.ts';
import { type ChainHost, ChainResult, type FilterChain, type FilterFailure } from './filter-chain.ts';
import { HeaderList } from './header-list.ts';
import { DOWNSTREAM_FRAMING, HOP_BY_HOP, stripHopByHop } from './header-rules.ts';
import { heldRequestHead } from './held-request-head.ts';
import { httpDate } from './http-date.ts';
import type { HttpListenerContext } from './http-stream.ts';
import { type LocalReply, localReplyFor, localReplyHeaders, reasonPhrase } from './local-reply.ts';
import type { ExchangeEnd } from './native-failures.ts';
import { wholeResponseText } from './net-response-writer.ts';
import { addProxyFields, requestIdIn } from './proxy-fields.ts';
import { RequestHead } from './request-head.ts';
import { ResponseHead } from './response-head.ts';
import type { Route } from './router.ts';
import { doneFailed, log } from './stream-base.ts';
import type { StreamContext, StreamOutcome } from './stream-context.ts';
import { countFilterFailure } from './stream-counters.ts';

/** The addon's calls for held exchanges (native/h1-listener.c); each answers -1 when the exchange is gone. */
export interface ParkedExchangeAddon {
  gather(handle: object, id: number, body: Buffer): number;
  forward(handle: object, id: number, decision: number, timeoutMs: number, head: string, body: Buffer | undefined, hookResponse: boolean): number;
  respond(handle: object, id: number, response: string, close: boolean): number;
}

/** What an exchange needs of its listener. */
export interface ParkedExchangeOwner {
  readonly addon: ParkedExchangeAddon;
  readonly handle: object | null;
  /** Runs the exchange's runDue() in a later turn (after the next poll when its `afterPoll` is set). */
  queue(exchange: NativeFilteredExchange): void;
}

/**
 * The ResponseHead of a head as the addon passes it to the response filters (native/h1-response.c): "HTTP/1.1 NNN
 * reason", then CRLF lines of `name:` fields the addon's parse validated (hop-by-hop ones dropped), no blank line.
 * The framing fields are the addon's to write: filters see neither Content-Length nor Transfer-Encoding.
 */
export function responseHeadOf(raw: string, headRequest: boolean): ResponseHead {
  const lineEnd = raw.indexOf('\r\n');
  const status = Number(raw.slice(9, 12));
  const reason = lineEnd > 13 ? raw.slice(13, lineEnd) : '';
  const headers = new HeaderList();
  let contentLength = -1;
  let at = lineEnd + 2;
  while (at < raw.length) {
    const end = raw.indexOf('\r\n', at);
    const colon = raw.indexOf(':', at);
    const name = raw.slice(at, colon).toLowerCase();
    const value = raw.slice(colon + 1, end).trim();
    if (name === 'content-length') contentLength = Number(value);
    else if (name !== 'transfer-encoding') headers.pushTrusted(name, value);
    at = end + 2;
  }
  return new ResponseHead(status, reason, headers, contentLength, headRequest || status === 204 || status === 304);
}

/** A decision's exchange id is bits 16..31 (native/h1.h). */
const EXCHANGE_ID = 2 ** 16;

/** Bodies this large or larger (the addon's read and write size): the steps after gathering one wait for a poll (afterPoll). */
const LARGE_BODY = 64 * 1024;

/** An exchange's head until start() parsed it. */
const UNPARSED = new RequestHead('GET', '/', '', new HeaderList(), -1, false);

/** What an exchange does in its next turn. */
export const Due = { Nothing: 0, Start: 1, Body: 2, Forward: 3 } as const;
export type Due = (typeof Due)[keyof typeof Due];

export class NativeFilteredExchange implements StreamContext, ChainHost, BodyFlowSink {
  readonly requestId: string;
  readonly remoteAddress: string;
  readonly startMs = performance.now();
  currentFilter = '';
  currentFilterIndex = 0;
  filterStates: unknown[] | null = null;
  /** Its end was reported (done()): nothing more is asked of the addon, whatever a filter's promise does later. */
  ended = false;
  private readonly owner: ParkedExchangeOwner;
  private readonly id: number;
  /** slot·2³² + id·2¹⁶: the decision without its target. */
  private readonly base: number;
  private readonly context: HttpListenerContext;
  private readonly route: Route;
  private readonly chain: FilterChain;
  private readonly targets: readonly number[];
  /** The head as received, parsed in start() (not in decide(): that turn of the loop stays short). */
  private readonly rawHead: string;
  private head: RequestHead = UNPARSED;
  private attributeMap: Map<string, unknown> | null = null;
  private bodyLimit = -1;
  private bufferingFilter = '';
  /** The gathered body, and a filter's replacement of it: the addon reads them until the end is reported. */
  private body: Buffer | null = null;
  private sentBody: Buffer | null = null;
  private flow: BodyFlow | null = null;
  private replied = false;
  /** Every onRequest ran (a local reply from now on passes every filter's onResponse). */
  private requestFiltersDone = false;
  /** Response phases run now, inside an addon call: a reply a filter makes (or a failure's) is kept here instead. */
  private capturing = false;
  private captured: LocalReply | null = null;
  /** For onDone: the component of the reply sent in the response's place, and this exchange's own failure. */
  private localComponent = '';
  private failureCode = '';

  constructor(
    owner: ParkedExchangeOwner,
    id: number,
    decisionBase: number,
    context: HttpListenerContext,
    route: Route,
    targets: readonly number[],
    rawHead: string,
    requestId: string,
    remoteAddress: string,
  ) {
    this.owner = owner;
    this.id = id;
    this.base = decisionBase;
    this.context = context;
    this.route = route;
    this.chain = route.chain;
    this.targets = targets;
    this.rawHead = rawHead;
    this.requestId = requestId;
    this.remoteAddress = remoteAddress;
    this.afterPoll = route.chain.hasWholeRequestBody;
  }

  /** The decision decide() answers: held, with this exchange's id. */
  static heldDecision(slotBase: number, id: number): number {
    return slotBase + id * EXCHANGE_ID + 0xffff;
  }

  get ctx(): StreamContext {
    return this;
  }

  get listenerName(): string {
    return this.context.name;
  }

  get routeName(): string {
    return this.route.name;
  }

  get clusterName(): string {
    return this.route.cluster?.name ?? '';
  }

  get attributes(): Map<string, unknown> {
    this.attributeMap ??= new Map();
    return this.attributeMap;
  }

  /**
   * Runs what is due in a turn of its own (after decide() returned: the addon holds the exchange by then): the
   * chain's onRequest phases, or the body phases once the body is gathered. Each is kept out of the addon's
   * callback, so no turn of the loop carries both the addon's reads and a filter's work.
   */
  runDue(): void {
    const due = this.due;
    this.due = Due.Nothing;
    if (due === Due.Start) this.start();
    else if (due === Due.Body) this.runBodyPhases();
    else if (due === Due.Forward) this.forward(this.forwarding);
  }

  /** What runDue() does next; the listener queues the exchange when it sets it. */
  due: Due = Due.Start;
  /**
   * The next step waits for a turn after the next poll (native-listener.ts toNextTurn): the steps of a route whose
   * filters read bodies, each of which is cold code run about once per upload.
   */
  afterPoll: boolean;
  /** The body forward() sends in the turn it was deferred to (or send() once onUpstreamRequest resumes). */
  private forwarding: Buffer | undefined = undefined;
  /** The endpoint forward() picked (the addon's target index). */
  private target = 0;

  private start(): void {
    if (this.ended) return;
    const head = heldRequestHead(this.rawHead);
    this.head = head;
    addProxyFields(head, this.requestId, requestIdIn(head.headers.get('x-request-id')), this.remoteAddress);
    this.filterStates = this.chain.newStates();
    if (this.chain.runHead('onRequest', head, this) === ChainResult.Continue) this.afterRequestFilters();
  }

  onPhaseResumed(phase: 'onRequest' | 'onUpstreamRequest' | 'onResponse'): void {
    // A response phase resumes only from a promise a synchronousResponse filter should not have returned: its
    // exchange was answered (a 500) when it did.
    if (phase === 'onRequest') this.afterRequestFilters();
    else if (phase === 'onUpstreamRequest') this.send(this.forwarding);
  }

  private afterRequestFilters(): void {
    if (this.ended || this.replied) return;
    this.requestFiltersDone = true;
    // (A route with a rewrite or a direct response is not served natively: native-listener.ts targetsOf.)
    const length = this.head.contentLength;
    if (this.bodyLimit < 0 || length <= 0) {
      this.forward(undefined);
      return;
    }
    if (length > this.bodyLimit) {
      this.failureCode = ErrorKinds.requestBodyTooLarge.code;
      this.sendLocalReply(localReplyFor(ErrorKinds.requestBodyTooLarge, this.bufferingFilter || 'filter'));
      return;
    }
    const body = allocBodyBuffer(length) ?? Buffer.allocUnsafeSlow(length);
    this.body = body;
    const got = this.owner.handle === null ? -1 : this.owner.addon.gather(this.owner.handle, this.id, body);
    if (got === 1) this.runBodyPhases();
  }

  /** The addon gathered the whole body: the body phases are due (after a poll, for a large one). */
  bodyGathered(): void {
    this.due = Due.Body;
    this.afterPoll = (this.body?.length ?? 0) >= LARGE_BODY;
  }

  /** The whole body is in `body`: the body phases see it once, with `end`. */
  private runBodyPhases(): void {
    if (this.ended || this.body === null || this.flow !== null) return;
    this.flow = new BodyFlow(this.chain, 'request', this, this);
    this.flow.push(this.body, true);
  }

  deliverBody(_direction: BodyDirection, chunk: Buffer): void {
    if (chunk !== this.body) {
      // A filter replaced the body: it goes out framed by its own length.
      this.sentBody = chunk;
      this.head.contentLength = chunk.length;
    }
    if (chunk.length < LARGE_BODY) {
      this.forward(chunk);
      return;
    }
    // A large one in a turn of its own: this runs where the body phases ended (for an offloaded scan, in the turn
    // that took the pool thread's answer), and the head and the first slices written are a turn's worth.
    this.forwarding = chunk;
    this.due = Due.Forward;
    this.afterPoll = true;
    this.owner.queue(this);
  }

  // The client is not read while a body phase is pending (the body is all here by then).
  pauseBodySource(): void {}
  resumeBodySource(): void {}

  /**
   * Load balancing, then the onUpstreamRequest phases, then send(). Unlike the net engine's, they run before the
   * upstream connection is taken (the addon takes it), and once: a retry the addon makes (a pooled connection that
   * closed under the request) sends the head they left again.
   */
  private forward(body: Buffer | undefined): void {
    if (this.ended || this.replied || this.owner.handle === null) return;
    const cluster = this.route.cluster as NonNullable<Route['cluster']>;
    this.target = this.targets[cluster.pickEndpoint()] as number;
    if (this.chain.hasUpstreamRequest) {
      // Kept for onPhaseResumed when a filter's promise pauses the phase.
      this.forwarding = body;
      if (this.chain.runHead('onUpstreamRequest', this.head, this) !== ChainResult.Continue) return;
    }
    this.send(body);
  }

  /** The addon sends the request to the picked endpoint, with the head the filters left and the body. */
  private send(body: Buffer | undefined): void {
    const handle = this.owner.handle;
    if (this.ended || this.replied || handle === null) return;
    this.forwarding = undefined;
    // Nothing may reply through respond() from now on (a filter's late verdict): the addon has sent the request.
    this.replied = true;
    this.owner.addon.forward(handle, this.id, this.base + this.target, this.route.timeoutMs, requestHeadText(this.head), body, this.chain.hasResponse);
  }

  /**
   * The upstream's response head, as the client would get it (`raw`: status line and fields, hop-by-hop ones
   * dropped, no blank line), through the onResponse phases in reverse: the head to send (fields with a Date, no
   * framing: the addon adds it), or a whole reply in its place when a filter answered or failed.
   */
  responseHead(raw: string, close: boolean): string {
    if (this.ended) return '';
    const res = responseHeadOf(raw, this.head.method === 'HEAD');
    const replaced = this.runResponsePhases(res, -1);
    // A filter's reply in place of the response passes the filters before it, as one made in onRequest does.
    if (replaced !== null) return this.localReplyText(replaced, this.currentFilterIndex, close);
    const status = res.status;
    let text = `HTTP/1.1 ${status} ${res.reason || reasonPhrase(status)}\r\n`;
    const e = res.headers.entries;
    let dated = false;
    for (let i = 0; i < e.length; i += 2) {
      const name = e[i] as string;
      // The addon writes the framing and persistence fields itself; hop-by-hop ones never pass.
      if (HOP_BY_HOP.has(name) || name === 'content-length') continue;
      if (name === 'date') dated = true;
      text += `${name}: ${e[i + 1]}\r\n`;
    }
    return dated ? text : `${text}date: ${httpDate()}\r\n`;
  }

  /**
   * A failure's local reply (the addon's: an upstream error, a timeout, a stalled body) after the request went
   * upstream: through every filter's onResponse, as on the net engine. Its whole text.
   */
  failureReply(status: number, headers: readonly string[], body: string, headOnly: boolean, close: boolean): string {
    return this.filteredReplyText(status, headers, body, this.ended ? 0 : this.chain.filters.length, headOnly, close);
  }

  /**
   * The onResponse phases from filter `from` (-1: the last) down, synchronously: null when every filter let the
   * head go on (edited in place), or the reply a filter made (or a failure's 500) to send instead. A promise
   * (from a filter that declared synchronousResponse) is a failure of that filter: the addon cannot wait here.
   */
  private runResponsePhases(res: ResponseHead, from: number): LocalReply | null {
    this.capturing = true;
    this.captured = null;
    const r = this.chain.runHead('onResponse', res, this, from);
    this.capturing = false;
    if (r === ChainResult.Pending) {
      const filter = this.currentFilter;
      this.onFilterFailure({ filter, error: new Error(`${filter}: onResponse returned a promise, but the filter declares synchronousResponse`) });
      return localReplyFor(ErrorKinds.filterError, filter);
    }
    return r === ChainResult.Replied ? this.captured : null;
  }

  bufferRequestBody(maxBytes: number): void {
    if (!this.head.hasBody || this.flow !== null) return;
    if (this.bodyLimit < 0 || maxBytes < this.bodyLimit) {
      this.bodyLimit = maxBytes;
      this.bufferingFilter = this.currentFilter;
    }
  }

  offload<T>(taskUrl: string, input: unknown, transfer: ArrayBuffer[] = [], options: { timeoutMs?: number; maxQueue?: number } = {}): Promise<T> {
    return offloadForFilter<T>(taskUrl, input, transfer, options);
  }

  onFilterReply(reply: LocalReply): void {
    if (this.capturing) this.captured = reply;
    else this.sendLocalReply(reply);
  }

  onDoneFailure(f: FilterFailure): void {
    doneFailed(this.context.counters, this.requestId, f);
  }

  onFilterFailure(f: FilterFailure): void {
    countFilterFailure(this.context.counters, f.filter);
    log.error({ requestId: this.requestId, filter: f.filter, err: f.error }, 'filter failed');
    this.failureCode = ErrorKinds.filterError.code;
    const reply = localReplyFor(ErrorKinds.filterError, f.filter);
    if (this.capturing) this.captured = reply;
    else this.sendLocalReply(reply);
  }

  /** As the net engine answers (stream-base.ts): the component, the request id, a text body. */
  private sendLocalReply(reply: LocalReply): void {
    const handle = this.owner.handle;
    if (this.ended || this.replied || handle === null) return;
    this.replied = true;
    this.flow?.stop();
    // A body not read (a reply before it was wanted or gathered) cannot be told from a next request: the addon
    // closes the connection after the reply, which says so.
    const bodyUnread = this.head === UNPARSED || (this.head.hasBody && this.flow === null);
    const close = reply.closeConnection === true || this.context.lifecycle.draining || bodyUnread;
    // Like the net engine's (stream-base.ts): the onResponse phases of the filters whose onRequest ran see it too;
    // the filter that answered, and those after it, do not. A reply a filter makes there goes instead, as it is.
    const text = this.localReplyText(reply, this.requestFiltersDone ? this.chain.filters.length : this.currentFilterIndex, close);
    this.context.counters.localReplies++;
    this.owner.addon.respond(handle, this.id, text, close);
  }

  /**
   * A local reply's whole text, through the onResponse phases of the first `ran` filters, in reverse. A reply a
   * filter makes there goes instead, as it is.
   */
  private localReplyText(reply: LocalReply, ran: number, close: boolean): string {
    this.localComponent = reply.component;
    return this.filteredReplyText(reply.status, localReplyHeaders(reply, this.requestId), reply.body, ran, this.head.method === 'HEAD', close);
  }

  /**
   * A reply's whole text (a filter's, or the addon's for a failure), through the onResponse phases of the first
   * `ran` filters, in reverse. A reply a filter makes there goes instead, as it is.
   */
  private filteredReplyText(status: number, headers: readonly string[], body: string, ran: number, headOnly: boolean, close: boolean): string {
    if (!this.chain.hasResponse || ran <= 0) return wholeResponseText(status, reasonPhrase(status), headers, body, headOnly, false, close);
    // A copy: the engine-level replies share their fields (ENGINE_REPLY_HEADERS), and filters edit these.
    const res = new ResponseHead(status, reasonPhrase(status), new HeaderList([...headers]), Buffer.byteLength(body), false);
    const replaced = this.runResponsePhases(res, ran - 1);
    if (replaced !== null) {
      this.localComponent = replaced.component;
      const own = localReplyHeaders(replaced, this.requestId);
      return wholeResponseText(replaced.status, reasonPhrase(replaced.status), own, replaced.body, this.head.method === 'HEAD', false, close);
    }
    // The reply's framing is wholeResponseText's (a filter's content-length would be a second one).
    stripHopByHop(res.headers, DOWNSTREAM_FRAMING);
    return wholeResponseText(res.status, res.reason || reasonPhrase(res.status), res.headers.entries, body, headOnly, false, close);
  }

  /**
   * The addon reported its end (`status`: the one the client got, 0 if none): the body's memory goes back to the
   * pool, and the filters' onDone hooks hear how it went, as on the net engine (stream-base.ts finish).
   */
  end(status: number, how: ExchangeEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.flow?.stop();
    if (this.body !== null) releaseBodyBuffer(this.body);
    if (this.sentBody !== null) releaseBodyBuffer(this.sentBody);
    this.body = this.sentBody = null;
    if (!this.chain.hasDone) return;
    // Ended before its chain started (the client went first): onDone still runs once, with fresh state.
    this.filterStates ??= this.chain.newStates();
    const outcome: StreamOutcome = {
      status,
      // Its own failure (a filter's, a 413) is the later word; else the addon's.
      failureCode: this.failureCode || how.failureCode,
      localReplyComponent: how.completed ? this.localComponent || how.component : '',
      completed: how.completed,
      durationMs: performance.now() - this.startMs,
    };
    this.chain.runDone(outcome, this);
  }
}
