// Which header fields a proxy must not forward (RFC 9110 §7.6.1) and which framing fields the engines write
// themselves. One place, so the request and response paths strip the same set.

import type { HeaderList } from './header-list.ts';

/** Hop-by-hop fields removed in both directions, besides whatever `Connection` lists. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'expect',
]);

/**
 * Removes hop-by-hop fields in place: the fixed set, plus every field the `Connection` header names.
 * `alsoDrop` names further fields this direction frames itself (e.g. content-length and date downstream).
 */
export function stripHopByHop(headers: HeaderList, alsoDrop?: ReadonlySet<string>): void {
  const e = headers.entries;
  let listed: Set<string> | undefined;
  for (let i = 0; i < e.length; i += 2) {
    if (e[i] === 'connection') {
      listed ??= new Set();
      for (const token of (e[i + 1] as string).split(',')) {
        const t = token.trim().toLowerCase();
        if (t) listed.add(t);
      }
    }
  }
  let w = 0;
  for (let r = 0; r < e.length; r += 2) {
    const name = e[r] as string;
    if (HOP_BY_HOP.has(name) || listed?.has(name) || alsoDrop?.has(name)) continue;
    if (w !== r) {
      e[w] = name;
      e[w + 1] = e[r + 1] as string;
    }
    w += 2;
  }
  e.length = w;
}

/** Removes the fields a `Connection` value lists (the fixed hop-by-hop set was dropped while collecting). */
export function stripListedByConnection(headers: HeaderList, connectionValue: string): void {
  for (const token of connectionValue.split(',')) {
    const t = token.trim().toLowerCase();
    if (t !== '' && t !== 'close' && t !== 'keep-alive') headers.remove(t);
  }
}

/** Response fields the downstream engine writes itself: copying the upstream's would duplicate or mis-frame. */
export const DOWNSTREAM_FRAMING = new Set(['content-length', 'date']);
