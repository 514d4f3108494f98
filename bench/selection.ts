// What `--candidates` and `--scenarios` name, checked before anything starts: a misspelt name used to be skipped
// without a word (a run of 13 minutes without the N-worker candidate, asked for as `mantou-native-2w`).

/** The names in `wanted` that are not in `known` (none when nothing was asked for). */
export function unknownNames(wanted: readonly string[] | undefined, known: readonly string[]): string[] {
  if (wanted === undefined) return [];
  return wanted.filter((name) => !known.includes(name));
}

/** The error line for unknown names of one kind, or null when every name is known. */
export function unknownNamesError(kind: string, wanted: readonly string[] | undefined, known: readonly string[]): string | null {
  const unknown = unknownNames(wanted, known);
  if (unknown.length === 0) return null;
  return `unknown ${kind}: ${unknown.join(', ')} (known: ${known.join(', ')})`;
}
