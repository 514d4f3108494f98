// Reads the server name (SNI, RFC 6066 §3) from a TLS ClientHello without terminating TLS: enough of the record
// layer (RFC 8446 §5.1) to collect the first handshake message, even when it spans several records, and enough of
// the ClientHello (§4.1.2) to walk to its extensions. Nothing is decrypted; the bytes are forwarded unchanged.

import { NEED_MORE } from './proxy-protocol.ts';

export { NEED_MORE };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const NAME_TYPE_HOST = 0x00;
const RECORD_HEADER_BYTES = 5;
/** RFC 8446 §5.1: a plaintext record carries at most 2^14 bytes. */
const MAX_RECORD_BYTES = 16_384;

export interface ClientHelloInfo {
  /** Lower-case, without a trailing dot; null when the client sent no server_name. */
  serverName: string | null;
}

/** What the ClientHello at the start of `b` says, NEED_MORE, or a string saying why this is not one. */
export function readClientHello(b: Buffer): ClientHelloInfo | typeof NEED_MORE | string {
  const message = handshakeMessage(b);
  if (typeof message !== 'object') return message;
  return parseClientHello(message);
}

/** The first handshake message, reassembled from its records. */
function handshakeMessage(b: Buffer): Buffer | typeof NEED_MORE | string {
  const fragments: Buffer[] = [];
  let collected = 0;
  let needed = -1;
  let at = 0;
  while (needed < 0 || collected < needed) {
    if (b.length < at + RECORD_HEADER_BYTES) return at === 0 && b.length > 0 && b[0] !== RECORD_HANDSHAKE ? 'not a TLS handshake' : NEED_MORE;
    if (b[at] !== RECORD_HANDSHAKE) return 'not a TLS handshake';
    if (b[at + 1] !== 0x03) return 'not a TLS record version';
    const length = b.readUInt16BE(at + 3);
    if (length === 0 || length > MAX_RECORD_BYTES) return 'TLS record length out of range';
    if (b.length < at + RECORD_HEADER_BYTES + length) return NEED_MORE;
    const fragment = b.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length);
    fragments.push(fragment);
    collected += length;
    at += RECORD_HEADER_BYTES + length;
    if (needed < 0 && collected >= 4) {
      const head = fragments.length === 1 ? fragment : Buffer.concat(fragments);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return 'first handshake message is not a ClientHello';
      needed = 4 + ((head[1] as number) << 16) + ((head[2] as number) << 8) + (head[3] as number);
    }
  }
  const whole = fragments.length === 1 ? (fragments[0] as Buffer) : Buffer.concat(fragments, collected);
  return whole.subarray(4, needed);
}

/** Walks a ClientHello body to its server_name extension. */
function parseClientHello(body: Buffer): ClientHelloInfo | string {
  const r = new Reader(body);
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  if (r.failed) return 'truncated ClientHello';
  if (r.remaining === 0) return { serverName: null }; // no extensions at all (old clients)
  const extensionsLength = r.u16();
  const extensionsEnd = r.at + extensionsLength;
  while (!r.failed && r.at + 4 <= extensionsEnd) {
    const type = r.u16();
    const length = r.u16();
    if (type !== EXTENSION_SERVER_NAME) {
      r.skip(length);
      continue;
    }
    const listLength = r.u16();
    const listEnd = r.at + listLength;
    while (!r.failed && r.at + 3 <= listEnd) {
      const nameType = r.u8();
      const name = r.bytes(r.u16());
      if (r.failed) break;
      if (nameType === NAME_TYPE_HOST) return { serverName: normalize(name.toString('latin1')) };
    }
    return r.failed ? 'truncated server_name extension' : { serverName: null };
  }
  return r.failed || r.at > extensionsEnd ? 'truncated ClientHello extensions' : { serverName: null };
}

function normalize(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Bounds-checked reads: past the end, `failed` is set and reads return zero. */
class Reader {
  at = 0;
  failed = false;
  private readonly b: Buffer;

  constructor(b: Buffer) {
    this.b = b;
  }

  get remaining(): number {
    return this.b.length - this.at;
  }

  private take(n: number): number {
    const at = this.at;
    if (at + n > this.b.length) {
      this.failed = true;
      this.at = this.b.length;
      return -1;
    }
    this.at = at + n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : (this.b[at] as number);
  }

  u16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : this.b.readUInt16BE(at);
  }

  skip(n: number): void {
    this.take(n);
  }

  bytes(n: number): Buffer {
    const at = this.take(n);
    return at < 0 ? Buffer.alloc(0) : this.b.subarray(at, at + n);
  }
}
