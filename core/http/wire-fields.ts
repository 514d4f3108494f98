// A request's header fields as they arrived: the head's latin1 text and offsets into it, with the fields a proxy
// does not forward marked. Forwarding an unmodified head then costs slices of that text, not a string per field;
// lookups compare in place. A HeaderList holds one of these until something needs the fields as strings.

export class WireFields {
  /** The whole head, one char per byte. */
  private readonly text: string;
  /** [nameStart, nameEnd, valueStart, valueEnd] per field. */
  private readonly fields: readonly number[];
  /** Ascending indices of fields left out. */
  private readonly omitted: readonly number[] | null;

  constructor(text: string, fields: readonly number[], omitted: readonly number[] | null) {
    this.text = text;
    this.fields = fields;
    this.omitted = omitted;
  }

  /** The first forwarded value of `lowerName`, or undefined; compares case-insensitively in place. */
  find(lowerName: string): string | undefined {
    const f = this.fields;
    const n = lowerName.length;
    for (let i = 0, k = 0; k < f.length; i++, k += 4) {
      const start = f[k] as number;
      if ((f[k + 1] as number) - start !== n || !this.nameIs(start, lowerName) || this.isOmitted(i)) continue;
      return this.text.slice(f[k + 2] as number, f[k + 3] as number);
    }
    return undefined;
  }

  /** Appends [lower-case name, value, …] of every forwarded field to `out`. */
  materialize(out: string[]): void {
    const f = this.fields;
    const text = this.text;
    for (let i = 0, k = 0; k < f.length; i++, k += 4) {
      if (this.isOmitted(i)) continue;
      out.push(text.slice(f[k] as number, f[k + 1] as number).toLowerCase(), text.slice(f[k + 2] as number, f[k + 3] as number));
    }
  }

  /** The forwarded field lines exactly as received (`Name: value\r\n` each), omitted lines cut out. */
  lines(): string {
    const f = this.fields;
    if (f.length === 0) return '';
    const text = this.text;
    // Field i's line runs from its name to the next field's name; the last one to the head's final CRLF.
    const end = text.length - 2;
    const omitted = this.omitted;
    if (omitted === null) return text.slice(f[0] as number, end);
    let out = '';
    let from = f[0] as number;
    for (const i of omitted) {
      const lineStart = f[i * 4] as number;
      const next = (i + 1) * 4 < f.length ? (f[(i + 1) * 4] as number) : end;
      if (lineStart > from) out += text.slice(from, lineStart);
      from = next;
    }
    if (end > from) out += text.slice(from, end);
    return out;
  }

  private nameIs(start: number, lowerName: string): boolean {
    const text = this.text;
    for (let j = 0; j < lowerName.length; j++) {
      const c = text.charCodeAt(start + j);
      // ASCII letters fold to lower case; names are tokens, so no other byte folds onto a letter.
      if ((c >= 0x41 && c <= 0x5a ? c | 0x20 : c) !== lowerName.charCodeAt(j)) return false;
    }
    return true;
  }

  private isOmitted(i: number): boolean {
    return this.omitted?.includes(i) === true;
  }
}
