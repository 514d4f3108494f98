// The admin port's defence against clients that trickle a request's headers (or never finish one), with a timer per
// connection that exists only while that connection waits for a request.
//
// Why not Node's own headersTimeout/requestTimeout: http.Server enforces them by checking its connections on an
// interval (connectionsCheckingInterval, 30 s) that runs for as long as the server listens, connections or not. On
// the supervisor that interval was the one thing that woke an idle Mantou (strace: epoll_pwait timing out every
// 29,999 ms). The admin server turns the interval off (the longest delay a Node timer takes) and arms this instead.

import type http from 'node:http';
import type net from 'node:net';

/** Node's longest timer delay (2^31 - 1 ms, about 24.8 days); a longer one would fire after 1 ms instead. */
export const NEVER_MS = 2 ** 31 - 1;

const REQUEST_TIMEOUT_REPLY = 'HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

interface Waiting {
  timer: NodeJS.Timeout | undefined;
  /** Requests whose headers arrived and whose response has not finished (more than one when pipelined). */
  open: number;
}

/**
 * Gives every connection `deadlineMs()` to deliver a request's complete headers: from its accept, and again from
 * each response's end while no other request is open on it (read each time, so a reload's value applies to the next
 * wait). A connection that misses it gets a 408 and is closed, as Node's headersTimeout would answer. Keep-alive
 * connections that simply sit idle are closed by the server's keepAliveTimeout (2 s, a socket timeout, likewise
 * armed only while the connection exists) unless this deadline is shorter and comes first.
 */
export function enforceHeaderDeadline(server: http.Server, deadlineMs: () => number): void {
  const waiting = new WeakMap<net.Socket, Waiting>();
  const expire = (socket: net.Socket): void => {
    if (socket.destroyed) return;
    socket.end(REQUEST_TIMEOUT_REPLY);
    socket.destroySoon();
  };
  const arm = (socket: net.Socket, w: Waiting): void => {
    clearTimeout(w.timer);
    w.timer = setTimeout(expire, deadlineMs(), socket);
  };
  server.on('connection', (socket: net.Socket) => {
    const w: Waiting = { timer: undefined, open: 0 };
    waiting.set(socket, w);
    arm(socket, w);
    socket.once('close', () => clearTimeout(w.timer));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    const w = waiting.get(socket);
    if (w === undefined) return;
    w.open++;
    clearTimeout(w.timer);
    w.timer = undefined;
    res.once('close', () => {
      w.open--;
      if (w.open === 0 && !socket.destroyed) arm(socket, w);
    });
  });
}
