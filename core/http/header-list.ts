// Headers as one flat array [name, value, name, value, …] with lower-case names: no Map or object per message,
// insertion order kept, repeated fields kept as repeated entries (as on the wire). A list made from a request's
// wire fields (the `net` engine) keeps them as received until something needs them as strings: lookups and
// additions do not; reading `entries` or changing a received field does (it materialises them, in order).

import { isSafeFieldValue, isToken } from './http-tokens.ts';
import type { WireFields } from './wire-fields.ts';

export class InvalidHeaderError extends Error {
  readonly code = 'invalid_header';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHeaderError';
  }
}

export class HeaderList {
  /** Materialised fields, or (while `wire` is set) only the fields added after the wire ones. */
  private list: string[];
  private wire: WireFields | null = null;

  constructor(entries: string[] = []) {
    this.list = entries;
  }

  /** A list over received fields, kept as they are until needed as strings. */
  static fromWire(wire: WireFields): HeaderList {
    const h = new HeaderList();
    h.wire = wire;
    return h;
  }

  /** [name0, value0, name1, value1, …]; names lower-case. Engines and parsers fill it directly. */
  get entries(): string[] {
    if (this.wire !== null) this.materialize();
    return this.list;
  }

  /** While no received field was read as a list or changed: those fields' lines as received; otherwise null. */
  get wireLines(): string | null {
    return this.wire === null ? null : this.wire.lines();
  }

  /** With `wireLines`: the fields added after the received ones. */
  get addedEntries(): readonly string[] {
    return this.list;
  }

  get size(): number {
    return this.entries.length >> 1;
  }

  /** The first value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    if (this.wire !== null) {
      const v = this.wire.find(name);
      if (v !== undefined) return v;
    }
    const e = this.list;
    for (let i = 0; i < e.length; i += 2) if (e[i] === name) return e[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every value of `name`, in order. */
  getAll(name: string): string[] {
    const out: string[] = [];
    const e = this.entries;
    for (let i = 0; i < e.length; i += 2) if (e[i] === name) out.push(e[i + 1] as string);
    return out;
  }

  /** Appends a field; name and value are validated (no CR/LF/NUL can reach the wire). */
  add(name: string, value: string): void {
    const lower = checkedName(name);
    checkValue(lower, value);
    this.list.push(lower, value);
  }

  /** Replaces every field named `name` with one field. */
  set(name: string, value: string): void {
    const lower = checkedName(name);
    checkValue(lower, value);
    this.removeLower(lower);
    this.list.push(lower, value);
  }

  /** Removes every field named `name`; returns how many were removed. */
  remove(name: string): number {
    return this.removeLower(name.toLowerCase());
  }

  /** Appends to an existing comma-separated list field, or adds it. */
  append(name: string, value: string): void {
    const lower = checkedName(name);
    checkValue(lower, value);
    this.appendTrusted(lower, value);
  }

  /** `append` without validation, for values the proxy made or validated itself. */
  appendTrusted(lowerName: string, value: string): void {
    this.materializeIfReceived(lowerName);
    const e = this.list;
    for (let i = 0; i < e.length; i += 2) {
      if (e[i] === lowerName) {
        e[i + 1] = `${e[i + 1]}, ${value}`;
        return;
      }
    }
    e.push(lowerName, value);
  }

  /** Unchecked append for callers that have validated already (parsers, engines). */
  pushTrusted(lowerName: string, value: string): void {
    this.list.push(lowerName, value);
  }

  private removeLower(lower: string): number {
    this.materializeIfReceived(lower);
    const e = this.list;
    let w = 0;
    let removed = 0;
    for (let r = 0; r < e.length; r += 2) {
      if (e[r] === lower) {
        removed++;
        continue;
      }
      if (w !== r) {
        e[w] = e[r] as string;
        e[w + 1] = e[r + 1] as string;
      }
      w += 2;
    }
    e.length = w;
    return removed;
  }

  /** A received field is about to change: from now on every field is a string in `list`, in order. */
  private materializeIfReceived(lowerName: string): void {
    if (this.wire !== null && this.wire.find(lowerName) !== undefined) this.materialize();
  }

  private materialize(): void {
    const wire = this.wire as WireFields;
    this.wire = null;
    const added = this.list;
    const all: string[] = [];
    wire.materialize(all);
    for (let i = 0; i < added.length; i++) all.push(added[i] as string);
    this.list = all;
  }
}

function checkedName(name: string): string {
  if (!isToken(name)) throw new InvalidHeaderError(`invalid header name ${JSON.stringify(name)}`);
  return name.toLowerCase();
}

function checkValue(name: string, value: string): void {
  if (!isSafeFieldValue(value)) throw new InvalidHeaderError(`invalid value for header ${name}: contains CR, LF, NUL or a control byte`);
}
