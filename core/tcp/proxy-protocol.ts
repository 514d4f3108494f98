// The PROXY protocol (HAProxy's spec, versions 1 and 2): a header a proxy writes first on its upstream connection
// so the server learns the real client address. Encoding for the upstream side; parsing for a listener behind a
// load balancer that sends it.

import net from 'node:net';

export type ProxyProtocolVersion = 'v1' | 'v2';

export interface ProxiedAddresses {
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

/** v2's fixed 12-byte signature. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The spec's bound on a v1 line, CRLF included. */
const V1_MAX_BYTES = 107;
const V2_HEADER_BYTES = 16;
const CMD_LOCAL = 0x20;
const CMD_PROXY = 0x21;
const FAMILY_TCP4 = 0x11;
const FAMILY_TCP6 = 0x21;

/** An IPv4-mapped IPv6 address as IPv4 (how Node reports IPv4 clients of a dual-stack listener). */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The header announcing `a`. Both addresses must be of one family: a mixed pair (an IPv6 client proxied over
 * IPv4) is sent as IPv6 with the IPv4 one mapped, as the spec asks. Unparseable addresses give UNKNOWN / LOCAL.
 */
export function encodeProxyHeader(version: ProxyProtocolVersion, a: ProxiedAddresses): Buffer {
  let src = plainAddress(a.sourceAddress);
  let dst = plainAddress(a.destinationAddress);
  const srcFamily = net.isIP(src);
  const dstFamily = net.isIP(dst);
  const known = srcFamily !== 0 && dstFamily !== 0;
  const six = known && (srcFamily === 6 || dstFamily === 6);
  if (six) {
    if (srcFamily === 4) src = `::ffff:${src}`;
    if (dstFamily === 4) dst = `::ffff:${dst}`;
  }
  if (version === 'v1') {
    if (!known) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
    return Buffer.from(`PROXY ${six ? 'TCP6' : 'TCP4'} ${src} ${dst} ${a.sourcePort} ${a.destinationPort}\r\n`, 'latin1');
  }
  const addressBytes = known ? (six ? 36 : 12) : 0;
  const out = Buffer.alloc(V2_HEADER_BYTES + addressBytes);
  V2_SIGNATURE.copy(out, 0);
  out[12] = known ? CMD_PROXY : CMD_LOCAL;
  out[13] = known ? (six ? FAMILY_TCP6 : FAMILY_TCP4) : 0x00;
  out.writeUInt16BE(addressBytes, 14);
  if (known) {
    const width = six ? 16 : 4;
    writeAddress(out, V2_HEADER_BYTES, src, six);
    writeAddress(out, V2_HEADER_BYTES + width, dst, six);
    out.writeUInt16BE(a.sourcePort, V2_HEADER_BYTES + 2 * width);
    out.writeUInt16BE(a.destinationPort, V2_HEADER_BYTES + 2 * width + 2);
  }
  return out;
}

/** Parsing needs more bytes. */
export const NEED_MORE = Symbol('need more bytes');

export interface ParsedProxyHeader {
  version: ProxyProtocolVersion;
  /** Header length: what to cut off before the client's own bytes. */
  consumed: number;
  /** Null for LOCAL (v2) and UNKNOWN (v1): the connection's own addresses stand. */
  addresses: ProxiedAddresses | null;
}

/** A header at the start of `b`, NEED_MORE, or a string saying what is wrong. */
export function parseProxyHeader(b: Buffer, accept: 'v1' | 'v2' | 'any'): ParsedProxyHeader | typeof NEED_MORE | string {
  const maybeV2 = prefixMatches(b, V2_SIGNATURE);
  const maybeV1 = prefixMatches(b, V1_PREFIX);
  if (maybeV2 === false && maybeV1 === false) return 'no PROXY protocol header';
  if (maybeV2 === null || maybeV1 === null) return NEED_MORE;
  if (maybeV2) return accept === 'v1' ? 'PROXY protocol v2 header where v1 is expected' : parseV2(b);
  return accept === 'v2' ? 'PROXY protocol v1 header where v2 is expected' : parseV1(b);
}

/** True: `b` starts with `prefix`; false: it cannot; null: too short to tell yet. */
function prefixMatches(b: Buffer, prefix: Buffer): boolean | null {
  const n = Math.min(b.length, prefix.length);
  for (let i = 0; i < n; i++) if (b[i] !== prefix[i]) return false;
  return b.length >= prefix.length ? true : null;
}

function parseV1(b: Buffer): ParsedProxyHeader | typeof NEED_MORE | string {
  const end = b.indexOf('\r\n', 0, 'latin1');
  if (end < 0) return b.length >= V1_MAX_BYTES ? 'PROXY protocol v1 line longer than 107 bytes' : NEED_MORE;
  if (end + 2 > V1_MAX_BYTES) return 'PROXY protocol v1 line longer than 107 bytes';
  const parts = b.toString('latin1', 0, end).split(' ');
  const consumed = end + 2;
  if (parts[1] === 'UNKNOWN') return { version: 'v1', consumed, addresses: null };
  if (parts.length !== 6 || (parts[1] !== 'TCP4' && parts[1] !== 'TCP6')) return 'malformed PROXY protocol v1 line';
  const [, proto, src = '', dst = '', sp = '', dp = ''] = parts;
  const family = proto === 'TCP4' ? 4 : 6;
  if (net.isIP(src) !== family || net.isIP(dst) !== family) return 'PROXY protocol v1 addresses do not match their family';
  const sourcePort = portOf(sp);
  const destinationPort = portOf(dp);
  if (sourcePort < 0 || destinationPort < 0) return 'PROXY protocol v1 port out of range';
  return { version: 'v1', consumed, addresses: { sourceAddress: src, sourcePort, destinationAddress: dst, destinationPort } };
}

/** A decimal port without leading zeros (as the spec writes them), or -1. */
function portOf(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return -1;
  const n = Number(s);
  return n <= 65535 ? n : -1;
}

function parseV2(b: Buffer): ParsedProxyHeader | typeof NEED_MORE | string {
  if (b.length < V2_HEADER_BYTES) return NEED_MORE;
  const verCmd = b[12] as number;
  const family = b[13] as number;
  const length = b.readUInt16BE(14);
  if (verCmd >> 4 !== 2) return 'PROXY protocol v2 header with an unknown version';
  const consumed = V2_HEADER_BYTES + length;
  if (b.length < consumed) return NEED_MORE;
  if (verCmd === CMD_LOCAL) return { version: 'v2', consumed, addresses: null };
  if (verCmd !== CMD_PROXY) return 'PROXY protocol v2 header with an unknown command';
  if (family === FAMILY_TCP4 && length >= 12) {
    const at = V2_HEADER_BYTES;
    return {
      version: 'v2',
      consumed,
      addresses: {
        sourceAddress: `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`,
        destinationAddress: `${b[at + 4]}.${b[at + 5]}.${b[at + 6]}.${b[at + 7]}`,
        sourcePort: b.readUInt16BE(at + 8),
        destinationPort: b.readUInt16BE(at + 10),
      },
    };
  }
  if (family === FAMILY_TCP6 && length >= 36) {
    const at = V2_HEADER_BYTES;
    return {
      version: 'v2',
      consumed,
      addresses: {
        sourceAddress: ipv6At(b, at),
        destinationAddress: ipv6At(b, at + 16),
        sourcePort: b.readUInt16BE(at + 32),
        destinationPort: b.readUInt16BE(at + 34),
      },
    };
  }
  // UDP, unix sockets or UNSPEC: nothing a TCP proxy can use; the connection's own addresses stand (as HAProxy does).
  return { version: 'v2', consumed, addresses: null };
}

function ipv6At(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(at + i).toString(16));
  // Canonical text (zero runs compressed, mapped IPv4 shown as such) comes from the platform's own formatter.
  return new net.SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

function writeAddress(out: Buffer, at: number, address: string, six: boolean): void {
  if (!six) {
    const parts = address.split('.');
    for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
    return;
  }
  const groups = expandIpv6(address);
  for (let i = 0; i < 8; i++) out.writeUInt16BE(groups[i] as number, at + 2 * i);
}

/** The eight 16-bit groups of a valid IPv6 address (with :: and a dotted IPv4 tail allowed). */
function expandIpv6(address: string): number[] {
  let text = address;
  const dotted = text.lastIndexOf(':');
  const tail = text.slice(dotted + 1);
  if (net.isIPv4(tail)) {
    const p = tail.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted + 1)}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(zeros).fill('0'), ...right].map((g) => Number.parseInt(g, 16));
}
