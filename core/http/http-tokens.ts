// Byte classes of RFC 9110/9112 shared by the request and response parsers and by header validation.
// Lookup tables indexed by byte beat regular expressions on the hot path.

/** tchar (RFC 9110 §5.6.2): the bytes allowed in a header name or method. */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** field-vchar / obs-text / SP / HTAB (RFC 9110 §5.5): the bytes allowed in a header value. */
export const FIELD_VALUE_BYTE = new Uint8Array(256);
FIELD_VALUE_BYTE[0x09] = 1;
for (let c = 0x20; c <= 0x7e; c++) FIELD_VALUE_BYTE[c] = 1;
for (let c = 0x80; c <= 0xff; c++) FIELD_VALUE_BYTE[c] = 1;

export const HEX_VALUE = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX_VALUE[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUE[0x41 + c] = 10 + c;
  HEX_VALUE[0x61 + c] = 10 + c;
}

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HTAB = 0x09;
export const COLON = 0x3a;

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff || TCHAR[c] === 0) return false;
  }
  return true;
}

/** True when a header value can be written verbatim: no CR, LF, NUL or other control bytes but HTAB. */
export function isSafeFieldValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x100 ? FIELD_VALUE_BYTE[c] === 0 : false) return false;
  }
  return true;
}

/**
 * Methods both engines forward (RFC 9110 §9 and PATCH); anything else is answered 501. CONNECT is refused too:
 * HTTP listeners do not open raw tunnels to arbitrary authorities.
 */
export const FORWARDED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'PATCH']);
