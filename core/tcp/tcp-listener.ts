// A `protocol: tcp` listener in one worker, sharing its port with the other workers (SO_REUSEPORT). With the native
// relay (native-relay.ts) the addon accepts: sessions without filters run natively, the others are handed over as
// descriptors; without it a net.Server accepts. Either way a TcpSession runs each handed-over or net-accepted
// connection, and one sweep timer checks those sessions' deadlines (dozing while they only wait for bytes:
// util/sweeper.ts). Its counters outlive reloads (they belong to the listener, not the generation); sessions keep
// the generation they started on.

import net from 'node:net';
import { listenFailed } from '../errors.ts';
import { listenServer } from '../util/listen-server.ts';
import { Sweeper } from '../util/sweeper.ts';
import { NativeSessions, nativeRelay } from './native-relay.ts';
import type { SharedSessionCounts } from './shared-session-counts.ts';
import { newTcpCounters, type TcpCounters } from './tcp-counters.ts';
import { type SessionOwner, type TcpListenerContext, TcpSession } from './tcp-session.ts';

/** Deadline resolution: timeouts fire up to this much late. */
const SWEEP_MS = 250;

export class TcpListener implements SessionOwner {
  readonly name: string;
  readonly counters: TcpCounters = newTcpCounters();
  readonly shared: SharedSessionCounts | null;
  private readonly server: net.Server;
  /** Set when the native relay accepts for this listener (listen() decides). */
  private native: NativeSessions | null = null;
  private readonly sessions = new Set<TcpSession>();
  private readonly sweeper = new Sweeper(SWEEP_MS, this, sweep);
  private context: TcpListenerContext;
  port = 0;

  constructor(name: string, context: TcpListenerContext, shared: SharedSessionCounts | null) {
    this.name = name;
    this.context = context;
    this.shared = shared;
    // allowHalfOpen: a client's FIN is passed on, not answered with ours. pauseOnConnect: nothing is read until a
    // filter asks for the client's first bytes or the upstream is connected (bytes wait in the kernel meanwhile).
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  setContext(context: TcpListenerContext): void {
    this.context = context;
    this.native?.setContext(context);
  }

  /**
   * `exclusive` refuses sharing the port (single-process use); otherwise every worker binds it with SO_REUSEPORT.
   * The native relay takes IP addresses; a host name is left to net.Server.
   */
  async listen(address: string, port: number, exclusive: boolean): Promise<number> {
    if (nativeRelay !== null && net.isIP(address) !== 0) {
      const native = new NativeSessions(nativeRelay, this, this.context);
      try {
        this.port = native.listen(address, port, exclusive);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw listenFailed(this.name, address, port, code);
      }
      this.native = native;
      return this.port;
    }
    this.port = await listenServer(this.server, this.name, address, port, exclusive);
    return this.port;
  }

  /** Who accepts and relays: the native relay (filterless sessions), or node:net (all sessions). */
  get relay(): 'native' | 'node:net' {
    return this.native === null ? 'node:net' : 'native';
  }

  /** Stops accepting; sessions go on until they end (or close() at the drain timeout). */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
    this.native?.stopAccepting();
  }

  /** Closes the listen socket and every session (their close reason: listener_closed). */
  close(): void {
    if (this.server.listening) this.server.close();
    this.native?.close();
    for (const s of this.sessions) s.close('listener_closed', false);
    this.sweeper.stop();
  }

  /** The counters as of now (native sessions' bytes are added up here, not per read). */
  reportCounters(): TcpCounters {
    this.native?.syncCounters();
    return this.counters;
  }

  /** A connection the native relay accepted that only a TcpSession can run (filters): `fd` is its own copy. */
  adoptDescriptor(fd: number): void {
    this.sweeper.start();
    this.sessions.add(new TcpSession(fd, this.context, this));
  }

  sessionFinished(s: TcpSession): void {
    this.sessions.delete(s);
    if (this.sessions.size === 0) this.sweeper.stop();
  }

  /** The coarse clock; while the listener dozes, the first caller reads the real one and the sweeps resume. */
  now(): number {
    return this.sweeper.now();
  }

  private onConnection(socket: net.Socket): void {
    this.sweeper.start();
    // A session ends only on its sockets' 'close' events (never inside its constructor), so it is tracked at once.
    this.sessions.add(new TcpSession(socket, this.context, this));
  }

  /** Expires what is due and parks idle sockets' buffers; dozes once every session only waits for bytes. */
  sweep(): void {
    const now = this.sweeper.readClock();
    let idleUntil = Number.POSITIVE_INFINITY;
    for (const s of this.sessions) {
      s.checkDeadlines(now);
      const until = s.idleUntil();
      idleUntil = Math.min(idleUntil, until);
    }
    if (idleUntil !== 0 && this.sessions.size > 0) this.sweeper.doze(idleUntil);
  }
}

function sweep(listener: TcpListener): void {
  listener.sweep();
}
