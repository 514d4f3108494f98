// Reads a YAML config: parse with positions, expand ${VAR} / ${VAR:-default} inside scalar values, validate
// against the schema, then check what a schema cannot (references, regexes, header syntax). Every problem is
// reported as `file:line:col path: message`, all of them at once.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, Scalar, visit } from 'yaml';
import { contentDigest } from '../core/config-watcher.ts';
import { ConfigError, type ConfigProblem } from '../core/errors.ts';
import { type FilterModuleUrls, resolveFilters } from './filter-resolution.ts';
import { type Config, ConfigSchema } from './schema.ts';
import { schemaProblems } from './schema-problems.ts';
import { checkSemantics } from './semantic-checks.ts';

export interface LoadedConfig {
  file: string;
  config: Config;
  /** Custom filter modules (absolute path → content-hashed URL), imported and checked. */
  filterModules: FilterModuleUrls;
  /** The content's digest (core/config-watcher.ts): what `watchConfig` compares the file with from now on. */
  digest: string;
}

/** Reads, validates and resolves a config file: its custom filter modules are imported and every filter's options checked. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message: `cannot read config file (${code})` }]);
  }
  const text = bytes.toString('utf8');
  const config = parseConfig(text, file, env);
  const filters = await resolveFilters(config, dirname(file));
  if (filters.problems.length > 0) throw new ConfigError(locateProblems(text, file, filters.problems));
  return { file, config, filterModules: filters.urls, digest: contentDigest(bytes) };
}

/** Gives problems found after parsing (by path) their line and column in `text`. */
function locateProblems(text: string, file: string, problems: readonly { path: (string | number)[]; message: string }[]): ConfigProblem[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  return problems.map((p) => {
    const pos = lines.linePos(findOffset(doc, p.path, false));
    return { file, line: pos.line, col: pos.col, path: formatPath(p.path), message: p.message };
  });
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
  for (const e of schemaProblems(ConfigSchema, value)) problems.push({ ...locate(e.segments, e.unknownKey), message: e.message });
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
