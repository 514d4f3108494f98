// A small seeded generator (mulberry32), so that a failing fuzz case can be named by its seed and run again.

export interface Random {
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(n: number): Buffer;
  /** `total` cut at up to `maxCuts` random places: the lengths of the pieces, none empty. */
  pieces(total: number, maxCuts: number): number[];
}

export function seeded(seed: number): Random {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    between: (lo, hi) => lo + int(hi - lo + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)] as (typeof items)[number],
    bytes(n) {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = int(256);
      return out;
    },
    pieces(total, maxCuts) {
      if (total <= 1) return total === 1 ? [1] : [];
      const cuts = new Set<number>();
      for (let k = int(maxCuts + 1); k > 0; k--) cuts.add(1 + int(total - 1));
      const sorted = [...cuts].sort((a, b) => a - b);
      const out: number[] = [];
      let at = 0;
      for (const c of sorted) {
        out.push(c - at);
        at = c;
      }
      out.push(total - at);
      return out;
    },
  };
}

/** Runs `next` after a random pause: none, a turn of the event loop, or 1-3 ms. */
export function afterRandomPause(r: Random, next: () => void): void {
  const p = r.int(4);
  if (p === 0) next();
  else if (p === 1) setImmediate(next);
  else setTimeout(next, r.between(1, 3));
}
