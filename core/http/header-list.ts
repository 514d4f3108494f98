// Headers as one flat array [name, value, name, value, …] with lower-case names: no Map or object per message,
// insertion order kept, repeated fields kept as repeated entries (as on the wire).

import { isSafeFieldValue, isToken } from './http-tokens.ts';

export class InvalidHeaderError extends Error {
  readonly code = 'invalid_header';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidHeaderError';
  }
}

export class HeaderList {
  /** [name0, value0, name1, value1, …]; names lower-case. Engines and parsers fill it directly. */
  readonly entries: string[];

  constructor(entries: string[] = []) {
    this.entries = entries;
  }

  get size(): number {
    return this.entries.length >> 1;
  }

  /** The first value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    const e = this.entries;
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
    this.entries.push(lower, value);
  }

  /** Replaces every field named `name` with one field. */
  set(name: string, value: string): void {
    const lower = checkedName(name);
    checkValue(lower, value);
    this.removeLower(lower);
    this.entries.push(lower, value);
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
    const e = this.entries;
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
    this.entries.push(lowerName, value);
  }

  private removeLower(lower: string): number {
    const e = this.entries;
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
}

function checkedName(name: string): string {
  if (!isToken(name)) throw new InvalidHeaderError(`invalid header name ${JSON.stringify(name)}`);
  return name.toLowerCase();
}

function checkValue(name: string, value: string): void {
  if (!isSafeFieldValue(value)) throw new InvalidHeaderError(`invalid value for header ${name}: contains CR, LF, NUL or a control byte`);
}
