// The body-scan filter's offloaded task, run in the piscina pool: tests the body against the patterns. The body
// is shared memory (the proxy's body buffer pool) or a transferred buffer; only the verdict comes back.

export interface BodyScanInput {
  body: Uint8Array;
  patterns: string[];
  flags: string;
}

const compiled = new Map<string, RegExp[]>();

/** Index of the first pattern that matches, or -1. */
export default function scan(input: BodyScanInput): number {
  const key = `${input.flags}\u0000${input.patterns.join('\u0000')}`;
  let regexes = compiled.get(key);
  if (regexes === undefined) {
    regexes = input.patterns.map((p) => new RegExp(p, input.flags));
    compiled.set(key, regexes);
  }
  // latin1: one char per byte, so byte patterns mean what they say.
  const b = input.body;
  const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  return regexes.findIndex((r) => r.test(text));
}
