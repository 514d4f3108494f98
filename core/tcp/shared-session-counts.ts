// Session counts of each TCP listener across every worker thread, in one SharedArrayBuffer the supervisor makes
// and hands to each worker: what a connection limit needs to be a listener's limit rather than a worker's
// (Envoy's connection_limit is also shared by its workers). No message crosses threads per session.
//
// Per listener slot: the active sessions of all workers (Atomics.add gives each accepted session its ordinal),
// a one-second window (its second and the sessions accepted in it), and each worker's own active count, so the
// supervisor can take a crashed worker's sessions off the total.

/** Listener slots; a slot is reused once its listener is gone from the config. */
export const MAX_SESSION_SLOTS = 256;
export const MAX_WORKERS = 256;

const ACTIVE = 0;
const WINDOW_SECOND = 1;
const WINDOW_COUNT = 2;
const HEADER = 3;
const SLOT_CELLS = HEADER + MAX_WORKERS;

export function createSessionCountsBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(MAX_SESSION_SLOTS * SLOT_CELLS * Int32Array.BYTES_PER_ELEMENT);
}

/** What one accepted session learns of its listener's load (it counts itself). */
export interface SessionOrdinals {
  /** Active sessions of the listener, in every worker, this one included. */
  active: number;
  /** Sessions accepted by the listener in this wall-clock second, in every worker, this one included. */
  thisSecond: number;
}

/** One listener's counts, as one worker sees and updates them. */
export class SharedSessionCounts {
  private readonly cells: Int32Array;
  private readonly base: number;
  private readonly mine: number;

  constructor(buffer: SharedArrayBuffer, slot: number, worker: number) {
    if (slot < 0 || slot >= MAX_SESSION_SLOTS || worker < 0 || worker >= MAX_WORKERS)
      throw new RangeError(`session slot ${slot} / worker ${worker} out of range`);
    this.cells = new Int32Array(buffer);
    this.base = slot * SLOT_CELLS;
    this.mine = this.base + HEADER + worker;
  }

  /** Counts a new session in; fills `out` (reused by the caller, so nothing is allocated). */
  opened(nowSecond: number, out: SessionOrdinals): void {
    const c = this.cells;
    Atomics.add(c, this.mine, 1);
    out.active = Atomics.add(c, this.base + ACTIVE, 1) + 1;
    const second = Atomics.load(c, this.base + WINDOW_SECOND);
    if (second !== nowSecond && Atomics.compareExchange(c, this.base + WINDOW_SECOND, second, nowSecond) === second) {
      // This worker opened the new window. A session another worker counted between the exchange and this store
      // is lost: the window may admit one or two more than its limit, never refuse a session it should admit.
      Atomics.store(c, this.base + WINDOW_COUNT, 0);
    }
    out.thisSecond = Atomics.add(c, this.base + WINDOW_COUNT, 1) + 1;
  }

  closed(): void {
    Atomics.sub(this.cells, this.mine, 1);
    Atomics.sub(this.cells, this.base + ACTIVE, 1);
  }

  active(): number {
    return Atomics.load(this.cells, this.base + ACTIVE);
  }
}

/** Supervisor side: a worker that died took its sessions with it; take them off every listener's total. */
export function forgetWorkerSessions(buffer: SharedArrayBuffer, worker: number): void {
  const c = new Int32Array(buffer);
  for (let slot = 0; slot < MAX_SESSION_SLOTS; slot++) {
    const base = slot * SLOT_CELLS;
    const n = Atomics.exchange(c, base + HEADER + worker, 0);
    if (n !== 0) Atomics.sub(c, base + ACTIVE, n);
  }
}

/** Supervisor side: a slot for every TCP listener name, stable across reloads; slots of removed names are reused once idle. */
export class SessionSlotTable {
  private readonly slots = new Map<string, number>();
  private readonly buffer: SharedArrayBuffer;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
  }

  /** Slots for `names` (the TCP listeners of a new config); throws when more are needed than exist. */
  assign(names: readonly string[]): Record<string, number> {
    const wanted = new Set(names);
    const cells = new Int32Array(this.buffer);
    for (const [name, slot] of this.slots) {
      if (!wanted.has(name) && Atomics.load(cells, slot * SLOT_CELLS + ACTIVE) === 0) this.slots.delete(name);
    }
    const used = new Set(this.slots.values());
    let next = 0;
    for (const name of names) {
      if (this.slots.has(name)) continue;
      while (used.has(next)) next++;
      if (next >= MAX_SESSION_SLOTS) throw new RangeError(`more than ${MAX_SESSION_SLOTS} TCP listeners`);
      // A reused slot starts from zero: its previous listener has no session left.
      cells.fill(0, next * SLOT_CELLS, (next + 1) * SLOT_CELLS);
      this.slots.set(name, next);
      used.add(next);
    }
    return Object.fromEntries(names.map((n) => [n, this.slots.get(n) as number]));
  }
}
