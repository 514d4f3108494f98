// Reads a YAML config: parse with positions, expand ${VAR} / ${VAR:-default} inside scalar values, validate
// against the schema, then check what a schema cannot (references, regexes, header syntax). Every problem is
// reported as `file:line:col path: message`, all of them at once.

import { readFileSync } from 'node:fs';
import { type TSchema, TypeGuard } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar, visit } from 'yaml';
import { ConfigError, type ConfigProblem } from '../core/errors.ts';
import { type Config, ConfigSchema } from './schema.ts';
import { checkSemantics } from './semantic-checks.ts';

export interface LoadedConfig {
  file: string;
  config: Config;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config file (${code})` }]);
  }
  return { file, config: parseConfig(text, file, env) };
}

/** Parses and validates config text; throws ConfigError listing every problem found. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): { line: number; col: number } => lines.linePos(offset);
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = at(e.pos[0]);
        return { file, line: pos.line, col: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const problems: ConfigProblem[] = [];
  expandVariables(doc, env, (node, path, message) => {
    const pos = at(node.range?.[0] ?? 0);
    problems.push({ file, line: pos.line, col: pos.col, path: formatPath(path), message });
  });
  if (problems.length > 0) throw new ConfigError(problems);

  const value: unknown = doc.toJS() ?? {};
  const locate = (path: readonly (string | number)[], key = false) => {
    const pos = at(findOffset(doc, path, key));
    return { file, line: pos.line, col: pos.col, path: formatPath(path) };
  };
  for (const e of firstErrorPerPath(value)) problems.push({ ...locate(e.segments, e.unknownKey), message: e.message });
  if (problems.length > 0) throw new ConfigError(problems);

  const config = value as Config;
  for (const p of checkSemantics(config)) problems.push({ ...locate(p.path), message: p.message });
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Expands variables in scalar values (never in keys); a plain scalar is re-typed after expansion (`port: ${P}`). */
function expandVariables(doc: Document, env: NodeJS.ProcessEnv, report: (node: Node, path: (string | number)[], message: string) => void): void {
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      let missing = '';
      const expanded = node.value.replace(VARIABLE, (_m, name: string, fallback: string | undefined) => {
        const v = env[name];
        if (v !== undefined && v !== '') return v;
        if (fallback !== undefined) return fallback;
        missing ||= name;
        return '';
      });
      if (missing) {
        report(node, pathOf(ancestors, node), `environment variable ${missing} is not set and has no default (use \${${missing}:-default})`);
        return;
      }
      if (node.type === Scalar.PLAIN) {
        const retyped = parseDocument(expanded).toJS();
        node.value = retyped === null || typeof retyped === 'object' ? expanded : retyped;
      } else {
        node.value = expanded;
      }
    },
  });
}

/** The document path of a node from the visitor's ancestor chain (pairs give keys, sequences give indexes). */
function pathOf(ancestors: readonly unknown[], node: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  for (let i = 0; i < ancestors.length; i++) {
    const a = ancestors[i];
    const child = i + 1 < ancestors.length ? ancestors[i + 1] : node;
    if (isPair(a) && isScalar(a.key)) out.push(String(a.key.value));
    else if (isSeq(a)) out.push(a.items.indexOf(child as never));
  }
  return out;
}

interface SchemaProblem {
  segments: (string | number)[];
  message: string;
  unknownKey: boolean;
}

function firstErrorPerPath(value: unknown): SchemaProblem[] {
  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const e of Value.Errors(ConfigSchema, value)) {
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

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

/** Offset of the node at `path` (its key when `key`), or of the deepest ancestor that exists. */
function findOffset(doc: Document, path: readonly (string | number)[], key: boolean): number {
  let node: unknown = doc.contents;
  let offset = (node as Node | null)?.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === seg);
      if (!pair) return offset;
      const target = last && key ? pair.key : pair.value;
      node = target;
      offset = (target as Node | null)?.range?.[0] ?? (pair.key as Node).range?.[0] ?? offset;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      offset = (node as Node | null)?.range?.[0] ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
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
