// The body-scan filter's offloaded task, run in the piscina pool: tests the body against the patterns and
// hands the bytes back (moved, not copied) so the proxy can forward them.

import { move, transferableSymbol, valueSymbol } from 'piscina';

export interface BodyScanInput {
  body: ArrayBuffer;
  patterns: string[];
  flags: string;
}

export interface BodyScanOutput {
  /** Index of the first pattern that matched, or -1. */
  match: number;
  body: ArrayBuffer;
}

const compiled = new Map<string, RegExp[]>();

export default function scan(input: BodyScanInput): unknown {
  const key = `${input.flags}\u0000${input.patterns.join('\u0000')}`;
  let regexes = compiled.get(key);
  if (regexes === undefined) {
    regexes = input.patterns.map((p) => new RegExp(p, input.flags));
    compiled.set(key, regexes);
  }
  // latin1: one char per byte, so byte patterns and offsets mean what they say.
  const text = Buffer.from(input.body).toString('latin1');
  const match = regexes.findIndex((r) => r.test(text));
  const out: BodyScanOutput = { match, body: input.body };
  // Piscina's transferable wrapper: the result object is cloned, the body's memory moves.
  return move({ [transferableSymbol]: [input.body], [valueSymbol]: out } as never);
}
