// An HTTP listener on the `net` engine: a net.Server per worker sharing the port through SO_REUSEPORT, one
// NetConnection per client, and one sweep timer for every connection's deadlines (instead of a timer per
// connection re-armed on each read). While every connection is an idle keep-alive one, the listener dozes (Sweeper):
// one timer for the earliest idle deadline instead of four sweeps a second, and the first read after it reads the clock.

import net from 'node:net';
import { listenServer } from '../util/listen-server.ts';
import { Sweeper } from '../util/sweeper.ts';
import type { HttpListenerContext } from './http-stream.ts';
import { Deadline, type HandBack, NetConnection, type NetConnectionOwner } from './net-connection.ts';

/** Deadline resolution: timeouts fire up to this much late. */
const SWEEP_MS = 250;

export class NetListener implements NetConnectionOwner {
  readonly name: string;
  private readonly server: net.Server;
  private readonly connections = new Set<NetConnection>();
  private readonly sweeper = new Sweeper(SWEEP_MS, this, sweep);
  context: HttpListenerContext;
  port = 0;

  /**
   * Set when the native engine owns the port and the generation has a route it serves: it takes connections back
   * between requests (net-connection.ts). The native listener sets it on each generation.
   */
  handBack: HandBack | null = null;

  constructor(name: string, context: HttpListenerContext) {
    this.name = name;
    this.context = context;
    // allowHalfOpen: a client's FIN must not end our side (a response or a tunnel may still be flowing).
    // pauseOnConnect: nothing is read before the connection moves to the shared read buffer.
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.onConnection(socket));
  }

  setContext(context: HttpListenerContext): void {
    this.context = context;
  }

  /** `exclusive` refuses sharing the port (single-process use); otherwise every worker binds it with SO_REUSEPORT. */
  async listen(address: string, port: number, exclusive: boolean): Promise<number> {
    this.port = await listenServer(this.server, this.name, address, port, exclusive);
    return this.port;
  }

  /** Stops accepting; idle keep-alive connections close now, busy ones after their response. */
  stopAccepting(): void {
    if (this.server.listening) this.server.close();
    for (const c of this.connections) c.closeIfIdle();
  }

  close(): void {
    if (this.server.listening) this.server.close();
    for (const c of this.connections) c.shutdown();
    this.connections.clear();
    this.sweeper.stop();
  }

  connectionClosed(conn: NetConnection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0) this.sweeper.stop();
  }

  /** The coarse clock; while the listener dozes, the first caller reads the real one and the sweeps resume. */
  now(): number {
    return this.sweeper.now();
  }

  private onConnection(socket: net.Socket): void {
    this.sweeper.start();
    this.connections.add(new NetConnection(socket, this));
  }

  /**
   * A connection the native engine handed over: its own descriptor, the bytes it read and did not serve, and how
   * many times in a row it came back to the native engine only to be handed over again at its next request.
   */
  adoptDescriptor(fd: number, initial: Buffer, bounces: number): void {
    this.sweeper.start();
    this.connections.add(new NetConnection(fd, this, initial, bounces));
  }

  /** Expires what is due; dozes when only idle keep-alive connections are left. */
  sweep(): void {
    const now = this.sweeper.readClock();
    const requestLimit = this.context.net.requestTimeoutMs;
    let idleUntil = Number.POSITIVE_INFINITY;
    for (const c of this.connections) {
      if (c.deadlineKind !== Deadline.None && now >= c.deadlineAt) {
        c.expire();
        idleUntil = 0;
      } else if (c.requestOverdue(now, requestLimit)) {
        c.timeoutRequest();
        idleUntil = 0;
      } else if (c.deadlineKind === Deadline.Idle) idleUntil = Math.min(idleUntil, c.deadlineAt);
      else idleUntil = 0;
    }
    // Nothing in flight and nothing expired: until a client sends (now() wakes) or the earliest idle deadline,
    // there is nothing to check. Any other state leaves the sweeps running.
    if (idleUntil !== 0 && this.connections.size > 0) this.sweeper.doze(idleUntil);
  }
}

function sweep(listener: NetListener): void {
  listener.sweep();
}
