// An HTTP listener on uWebSockets.js: one uWS app per listener, a request handler that checks what uWS lets
// through (DESIGN.md §4) and hands each request to an HttpStream.

import type * as uws from 'uWebSockets.js';
import { listenFailed } from '../errors.ts';
import { componentLogger } from '../logger.ts';
import { copyToPooledChunk } from '../util/chunk-pool.ts';
import { HeaderList } from './header-list.ts';
import { stripListedByConnection } from './header-rules.ts';
import { type HttpListenerContext, HttpStream } from './http-stream.ts';
import { FORWARDED_METHODS, isSafeFieldValue } from './http-tokens.ts';
import { ENGINE_REPLY_HEADERS, reasonPhrase } from './local-reply.ts';
import { RequestHead } from './request-head.ts';
import { UwsDownstream } from './uws-downstream.ts';

const log = componentLogger('uws-listener');

let loaded: typeof uws | null = null;

/**
 * Loads uWebSockets.js in this thread; the data plane awaits it before it makes the thread's first uws listener.
 * Not at start-up: loading it starts a once-a-second timer in the thread's loop (uWS keeps its Date header
 * fresh), which would wake every idle worker that serves only the other engines. The package is ESM only, hence
 * the asynchronous import.
 */
export async function loadUwsLibrary(): Promise<void> {
  if (loaded !== null) return;
  const lib = (await import('uWebSockets.js')) as typeof uws;
  // The library's version header is noise on every response; '_cfg' is its documented-in-source switch.
  (lib as unknown as { _cfg(key: string): void })._cfg('silent');
  loaded = lib;
}

function uwsLibrary(): typeof uws {
  if (loaded === null) throw new Error('uWebSockets.js is not loaded in this thread (loadUwsLibrary() comes first)');
  return loaded;
}

/** uws-pack's typings omit the (host, port, options, cb) form that the native binding accepts. */
interface ListenWithOptions {
  listen(host: string, port: number, options: number, cb: (token: uws.us_listen_socket | false) => void): void;
}
const LIBUS_LISTEN_DEFAULT = 0;
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

export interface UwsListenerOptions {
  name: string;
  address: string;
  port: number;
}

export class UwsListener {
  readonly name: string;
  private readonly app: uws.TemplatedApp;
  private listenSocket: uws.us_listen_socket | null = null;
  private context: HttpListenerContext;
  port = 0;

  constructor(options: UwsListenerOptions, context: HttpListenerContext) {
    this.name = options.name;
    this.context = context;
    this.app = uwsLibrary().App();
    this.app.any('/*', (res, req) => this.onRequest(res, req));
  }

  /** Points new requests at another generation's context; requests in flight keep theirs. */
  setContext(context: HttpListenerContext): void {
    this.context = context;
  }

  /**
   * Starts listening. uWS sets SO_REUSEPORT by default, which is how the workers share a port; `exclusive`
   * refuses sharing (single-process use). With workers, the supervisor checks exclusivity before they bind.
   */
  listen(address: string, port: number, exclusive: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const app = this.app as unknown as ListenWithOptions;
      app.listen(address, port, exclusive ? LIBUS_LISTEN_EXCLUSIVE_PORT : LIBUS_LISTEN_DEFAULT, (token) => {
        if (!token) {
          reject(listenFailed(this.name, address, port, 'in use or not permitted'));
          return;
        }
        this.listenSocket = token;
        this.port = uwsLibrary().us_socket_local_port(token);
        resolve(this.port);
      });
    });
  }

  /** Stops accepting; open connections are closed by `close()`. */
  stopAccepting(): void {
    if (this.listenSocket !== null) {
      uwsLibrary().us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
  }

  close(): void {
    this.stopAccepting();
    this.app.close();
  }

  private onRequest(res: uws.HttpResponse, req: uws.HttpRequest): void {
    const remote = Buffer.from(res.getRemoteAddressAsText()).toString('latin1');
    const downstream = new UwsDownstream(res, remote);
    // onAborted first, always: returning without it (or a response) makes uWS terminate the process.
    res.onAborted(() => downstream.aborted());
    const outer = UwsDownstream.enterHandler(res);
    try {
      this.handle(res, req, downstream);
    } catch (err) {
      log.error({ err }, 'request handler failed');
      if (!downstream.isClosed) downstream.respond(500, reasonPhrase(500), ENGINE_REPLY_HEADERS, 'internal error\n', true);
    } finally {
      UwsDownstream.leaveHandler(outer);
    }
  }

  private handle(res: uws.HttpResponse, req: uws.HttpRequest, downstream: UwsDownstream): void {
    const method = req.getCaseSensitiveMethod();
    const headers = new HeaderList();
    collecting.req = req;
    collecting.headers = headers;
    collecting.problem = '';
    collecting.hosts = 0;
    collecting.contentLengths = 0;
    collecting.contentLength = -1;
    collecting.transferEncoding = undefined;
    collecting.connectionLists = false;
    collecting.closeRequested = false;
    collecting.uwsSawClose = false;
    collecting.connectionFields = 0;
    req.forEach(collectHeader);
    collecting.req = null;
    if (collecting.closeRequested) downstream.clientAskedToClose(collecting.uwsSawClose);
    if (collecting.problem === '' && collecting.hosts > 1) collecting.problem = 'repeated Host header';
    let chunked = false;
    const te = collecting.transferEncoding as string | undefined;
    if (collecting.problem === '' && te !== undefined) {
      if (te.trim().toLowerCase() !== 'chunked') collecting.problem = 'unsupported Transfer-Encoding';
      else if (collecting.contentLengths > 0) collecting.problem = 'both Transfer-Encoding and Content-Length';
      else chunked = true;
    }
    if (collecting.problem !== '') {
      rejectRequest(downstream, 400, collecting.problem);
      return;
    }
    if (!FORWARDED_METHODS.has(method)) {
      rejectRequest(downstream, 501, `method ${method} not implemented`);
      return;
    }
    if (collecting.connectionLists) stripListedByConnection(headers, req.getHeader('connection'));
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    const head = new RequestHead(method, url, query, headers, chunked ? -1 : collecting.contentLength, chunked);
    const stream = new HttpStream(this.context, downstream, head);
    if (head.hasBody) {
      downstream.expectRequestBody();
      // uWS neuters the ArrayBuffer when the callback returns: copy exactly once, into pooled memory.
      // uWS corks the socket around onData: replies written from here are marked as inside its cork.
      res.onData((ab: ArrayBuffer, last: boolean) => {
        const outer = UwsDownstream.enterHandler(res);
        try {
          downstream.receiveRequestBody(copyToPooledChunk(new Uint8Array(ab)), last);
        } finally {
          UwsDownstream.leaveHandler(outer);
        }
      });
    }
    stream.start();
  }
}

/** Headers of the replies the engine makes before a stream exists (rejections, handler failures). */

function rejectRequest(downstream: UwsDownstream, status: number, why: string): void {
  downstream.respond(status, reasonPhrase(status), ENGINE_REPLY_HEADERS, `${why}\n`, status === 400);
}

/** Scratch state for the header walk: uWS's forEach takes a callback, and one shared function avoids a closure. */
interface HeaderWalk {
  req: uws.HttpRequest | null;
  headers: HeaderList;
  problem: string;
  hosts: number;
  contentLengths: number;
  contentLength: number;
  transferEncoding: string | undefined;
  connectionLists: boolean;
  /** A `close` connection option, in any Connection field, or a close uWS makes by itself (uwsSawClose). */
  closeRequested: boolean;
  /** The first Connection field is five bytes long ("close", or anything else as long): uWS closes by itself. */
  uwsSawClose: boolean;
  connectionFields: number;
}
const collecting: HeaderWalk = {
  req: null,
  headers: new HeaderList(),
  problem: '',
  hosts: 0,
  contentLengths: 0,
  contentLength: -1,
  transferEncoding: undefined,
  connectionLists: false,
  closeRequested: false,
  uwsSawClose: false,
  connectionFields: 0,
};

function collectHeader(name: string, utf8Value: string): void {
  let value = utf8Value;
  if (hasNonAscii(value) && !collecting.headers.has(name)) {
    // forEach decodes values as UTF-8 (an obs-text byte becomes U+FFFD); getHeader returns them byte for byte
    // (latin1), our HeaderList contract. It only returns the first field of a name: later repeats stay lossy.
    // Neither can recover bytes >= 0x80 at the very end of a value: uWS's parser strips them (probed, 20.0.8).
    value = (collecting.req as uws.HttpRequest).getHeader(name);
  }
  if (!isSafeFieldValue(value)) {
    collecting.problem = `invalid value for header ${name}`;
    return;
  }
  switch (name) {
    case 'host':
      collecting.hosts++;
      break;
    case 'content-length': {
      collecting.contentLengths++;
      if (collecting.contentLengths > 1) collecting.problem = 'repeated Content-Length header';
      else if (!/^\d{1,15}$/.test(value)) collecting.problem = 'invalid Content-Length header';
      else collecting.contentLength = Number(value);
      return;
    }
    case 'transfer-encoding':
      collecting.transferEncoding = collecting.transferEncoding === undefined ? value : `${collecting.transferEncoding}, ${value}`;
      return;
    case 'connection':
      if (collecting.connectionFields === 0 && value.trim().length === 5) {
        // uWS 20.0.8 closes after the response when the first Connection field is five bytes long, whatever
        // they are ("close", but also "x-hop" or "a, bc": it compares lengths; probed): the response must say so.
        collecting.closeRequested = true;
        collecting.uwsSawClose = true;
      } else if (CLOSE_OPTION.test(value)) collecting.closeRequested = true;
      collecting.connectionFields++;
      // Only a Connection header listing more than keep-alive/close needs the strip pass (for what it lists).
      if (!/^\s*(?:keep-alive|close)\s*$/i.test(value)) collecting.connectionLists = true;
      return;
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
    case 'trailer':
    case 'upgrade':
    case 'http2-settings':
    case 'expect':
      // Hop-by-hop (RFC 9110 §7.6.1): never forwarded.
      return;
  }
  collecting.headers.pushTrusted(name, value);
}

/** `close` as one of the comma-separated options of a Connection field (RFC 9110 §7.6.1). */
const CLOSE_OPTION = /(?:^|,)\s*close\s*(?:,|$)/i;

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}
