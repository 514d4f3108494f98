// Gives an accepted client connection one read buffer shared by every client socket of this thread, as the
// upstream side has (Node's `onread`). net.Server cannot take `onread`, so the listener accepts paused and the
// connection's handle is moved into a Socket made with it. Without this every read allocates its own Buffer: a
// fast upload left up to 64 MiB of dead read buffers for the garbage collector (V8's external-memory trigger),
// far over the 32 MiB an upload may cost, and the allocation shows on small requests too.

import net from 'node:net';

/** Reads are handled one at a time and synchronously: whatever is kept past a read is copied out of this. */
/** One read's worth (Node's own read size). */
export const READ_BUFFER_BYTES = 64 * 1024;
const SHARED_READ_BUFFER = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** The private fields of an accepted net.Socket this move touches (stable since Node 12's `onread`). */
interface AcceptedInternals {
  _handle: unknown;
  _server: net.Server | null;
  server: net.Server | null;
}

/**
 * `accepted` must come from a server created with `pauseOnConnect: true` (nothing read yet). Returns the socket
 * to use instead: `onRead(chunk)` gets each read as a view of the shared buffer, valid only during the call.
 */
export function adoptWithSharedReadBuffer(accepted: net.Socket, allowHalfOpen: boolean, onRead: (chunk: Buffer) => void): net.Socket {
  return adoptWithOnread(
    accepted,
    allowHalfOpen,
    { buffer: SHARED_READ_BUFFER, callback: (n: number, buf: Uint8Array): boolean => readInto(onRead, n, buf) },
    false,
  );
}

/** Node's `onread` option: reads land in `buffer` (or the buffer it returns, per read); `callback` false pauses. */
export interface OnreadOption {
  buffer: Uint8Array | (() => Uint8Array);
  callback: (bytesRead: number, buffer: Uint8Array) => boolean;
}

/**
 * The accepted connection's handle moved into a Socket reading with `onread`. `paused`: nothing is read until
 * resume() (the TCP proxy reads a client only once it has somewhere to send the bytes).
 */
export function adoptWithOnread(accepted: net.Socket, allowHalfOpen: boolean, onread: OnreadOption, paused: boolean): net.Socket {
  const husk = accepted as unknown as AcceptedInternals;
  const server = husk._server;
  const handle = husk._handle;
  // The husk never touches the handle again; it is never destroyed, so it counts nothing on the server.
  husk._handle = null;
  husk._server = null;
  // pauseOnCreate: Node's own option for sockets made from a handle (cluster uses it): no read starts.
  const options = { handle, allowHalfOpen, readable: true, writable: true, onread, pauseOnCreate: paused } as unknown as net.SocketConstructorOpts;
  const socket = new net.Socket(options);
  // The server counted the accepted connection: this socket's close must uncount it (server.close waits on it).
  const adopted = socket as unknown as AcceptedInternals;
  adopted._server = server;
  adopted.server = server;
  return socket;
}

/**
 * A Socket for a descriptor of our own (a connection the native engines handed over), reading with `onread`.
 * `paused`: nothing is read until resume().
 */
export function socketFromDescriptor(fd: number, onread: OnreadOption, paused: boolean): net.Socket {
  // pauseOnCreate: Node's own option for sockets made from a handle or descriptor: no read starts.
  const options = { fd, allowHalfOpen: true, readable: true, writable: true, onread, pauseOnCreate: paused } as unknown as net.SocketConstructorOpts;
  const socket = new net.Socket(options);
  socket.setNoDelay(true);
  return socket;
}

/** socketFromDescriptor with the shared read buffer, reading at once: `onRead` as in adoptWithSharedReadBuffer. */
export function descriptorWithSharedReadBuffer(fd: number, onRead: (chunk: Buffer) => void): net.Socket {
  return socketFromDescriptor(fd, { buffer: SHARED_READ_BUFFER, callback: (n: number, buf: Uint8Array): boolean => readInto(onRead, n, buf) }, false);
}

/** True: keep reading (a pause is the connection's own call to socket.pause()). */
function readInto(onRead: (chunk: Buffer) => void, n: number, buf: Uint8Array): boolean {
  onRead((buf as Buffer).subarray(0, n));
  return true;
}
