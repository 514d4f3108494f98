// Turns TypeBox validation errors into one readable problem per path: "expected integer 1..65535, got \"80a\"",
// "unknown key \"routs\" (did you mean \"routes\"?)". Used for the config and for every filter's options.

import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

export interface SchemaProblem {
  segments: (string | number)[];
  message: string;
  unknownKey: boolean;
}

/** The first problem per path of `value` against `schema`, worded for people (unknown keys get a suggestion). */
export function schemaProblems(schema: TSchema, value: unknown): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of Value.Errors(schema, value)) {
    const segments = e.path
      .split('/')
      .slice(1)
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    const unknownKey = e.message === 'Unexpected property';
    let message: string;
    if (unknownKey) {
      const name = String(segments[segments.length - 1]);
      const known = Object.keys((e.schema as { properties?: Record<string, unknown> }).properties ?? {});
      const guess = closest(name, known);
      message = `unknown key "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}`;
    } else if (e.message === 'Expected required property') {
      message = `missing required key "${String(segments[segments.length - 1])}"`;
    } else {
      message = `expected ${describe(e.schema)}, got ${show(e.value)}`;
    }
    const k = e.path;
    if (seen.has(k)) continue;
    // A problem inside a value already reported (e.g. a union's branches) adds nothing.
    if ([...seen].some((p) => k.startsWith(`${p}/`))) continue;
    seen.add(k);
    out.push({ segments, message, unknownKey });
  }
  return out;
}

/** Human wording of what a schema accepts: `integer 1..65535`, `one of "auto" or integer 1..256`. */
export function describe(schema: TSchema): string {
  if (TypeGuard.IsUnion(schema)) return schema.anyOf.map(describe).join(' or ');
  if (TypeGuard.IsLiteral(schema)) return JSON.stringify(schema.const);
  if (TypeGuard.IsInteger(schema) || TypeGuard.IsNumber(schema)) {
    const kind = TypeGuard.IsInteger(schema) ? 'integer' : 'number';
    const { minimum, maximum } = schema as { minimum?: number; maximum?: number };
    if (minimum !== undefined && maximum !== undefined) return `${kind} ${minimum}..${maximum}`;
    if (minimum !== undefined) return `${kind} >= ${minimum}`;
    return kind;
  }
  if (TypeGuard.IsString(schema)) {
    if (schema.pattern === '^/') return 'a string starting with "/"';
    return schema.minLength ? 'a non-empty string' : 'a string';
  }
  if (TypeGuard.IsBoolean(schema)) return 'true or false';
  if (TypeGuard.IsArray(schema)) return schema.minItems ? `a list of at least ${schema.minItems} item(s)` : 'a list';
  if (TypeGuard.IsObject(schema) || TypeGuard.IsRecord(schema)) return 'a mapping';
  return 'a valid value';
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}
