// A `protocol: tcp` listener in one worker: a net.Server sharing the port with the other workers (SO_REUSEPORT),
// a TcpSession per accepted connection, and one sweep timer for every session's deadlines. Its counters outlive
// reloads (they belong to the listener, not the generation); sessions keep the generation they started on.

import net from 'node:net';
import { listenServer } from '../util/listen-server.ts';
import { Sweeper } from '../util/sweeper.ts';
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
  private readonly sessions = new Set<TcpSession>();
  private readonly sweeper = new Sweeper(SWEEP_MS, this, sweep);
  private context: TcpListenerContext;
  nowMs = Date.now();
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
  }

  /** `exclusive` refuses sharing the port (single-process use); otherwise every worker binds it with SO_REUSEPORT. */
  async listen(address: string, port: number, exclusive: boolean): Promise<number> {
    this.port = await listenServer(this.server, this.name, address, port, exclusive);
    return this.port;
  }

  /** Stops accepting; sessions go on until they end (or close() at the drain timeout). */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
  }

  /** Closes the listen socket and every session (their close reason: listener_closed). */
  close(): void {
    if (this.server.listening) this.server.close();
    for (const s of this.sessions) s.close('listener_closed', false);
    this.sweeper.stop();
  }

  sessionFinished(s: TcpSession): void {
    this.sessions.delete(s);
    if (this.sessions.size === 0) this.sweeper.stop();
  }

  private onConnection(socket: net.Socket): void {
    this.nowMs = Date.now();
    this.sweeper.start();
    // A session ends only on its sockets' 'close' events (never inside its constructor), so it is tracked at once.
    this.sessions.add(new TcpSession(socket, this.context, this));
  }

  sweep(): void {
    const now = Date.now();
    this.nowMs = now;
    for (const s of this.sessions) s.checkDeadlines(now);
  }
}

function sweep(listener: TcpListener): void {
  listener.sweep();
}
