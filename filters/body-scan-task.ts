// The body-scan filter's offloaded task, run in the piscina pool: tests the body against the patterns. The body
// is shared memory (the proxy's body buffer pool) or a transferred buffer, read in place; only the verdict comes back.

import { firstMatchLatin1 } from './latin1-scan.ts';

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
  // The bytes stay as they are while the scan runs: the worker forwards or drops the body only on the verdict. A scan
  // past its deadline may see them reused, but its thread is then being terminated (piscina) and its verdict unused.
  return firstMatchLatin1(regexes, input.body);
}
