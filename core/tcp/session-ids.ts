// TCP session ids: one counter per worker, in memory both relays write. TcpSession takes the next id here; the
// native relay (native/l4-*.c) increments the same double in C at accept. Ids are unique per worker, so the
// worker's thread id and the session id name a session in the logs.

/** [last id given]. An ArrayBuffer of its own: the addon keeps a pointer into it, which must never move. */
export const sessionIdCounter = new Float64Array(new ArrayBuffer(8));

export function nextSessionId(): number {
  sessionIdCounter[0] = (sessionIdCounter[0] as number) + 1;
  return sessionIdCounter[0] as number;
}
