// Checks a schema cannot express: names unique, routes pointing at clusters that exist, exactly one route
// action, regexes that compile, header names and values that can go on the wire.

import { isSafeFieldValue, isToken } from '../core/http/http-tokens.ts';
import type { Config, HeaderRulesConfig, ListenerConfig } from './schema.ts';

export interface SemanticProblem {
  path: (string | number)[];
  message: string;
}

export function checkSemantics(config: Config): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const report = (path: (string | number)[], message: string) => problems.push({ path, message });
  const clusters = config.clusters ?? [];
  const clusterNames = new Set<string>();
  clusters.forEach((c, i) => {
    if (clusterNames.has(c.name)) report(['clusters', i, 'name'], `duplicate cluster name "${c.name}"`);
    clusterNames.add(c.name);
  });
  const listenerNames = new Set<string>();
  const ports = new Map<string, number>();
  config.listeners.forEach((l, li) => {
    if (listenerNames.has(l.name)) report(['listeners', li, 'name'], `duplicate listener name "${l.name}"`);
    listenerNames.add(l.name);
    if (l.port !== 0) {
      const key = `${l.address ?? '0.0.0.0'}:${l.port}`;
      const other = ports.get(key);
      if (other !== undefined) report(['listeners', li, 'port'], `port ${l.port} is already used by listeners[${other}]`);
      ports.set(key, li);
    }
    checkProtocolKeys(l, li, clusterNames, report);
    l.routes?.forEach((r, ri) => {
      const at = ['listeners', li, 'routes', ri];
      const actions = (r.cluster !== undefined ? 1 : 0) + (r.directResponse !== undefined ? 1 : 0);
      if (actions !== 1) report(at, 'a route needs exactly one of "cluster" or "directResponse"');
      if (r.cluster !== undefined && !clusterNames.has(r.cluster)) {
        const known = [...clusterNames].map((n) => `"${n}"`).join(', ') || 'none defined';
        report([...at, 'cluster'], `unknown cluster "${r.cluster}" (known: ${known})`);
      }
      if (r.prefixRewrite !== undefined && r.match?.path?.prefix === undefined) {
        report([...at, 'prefixRewrite'], 'prefixRewrite needs match.path.prefix (the part it replaces)');
      }
      const path = r.match?.path;
      if (path !== undefined) {
        const kinds = [path.exact, path.prefix, path.regex].filter((v) => v !== undefined).length;
        if (kinds > 1) report([...at, 'match', 'path'], 'use one of exact, prefix or regex');
        if (path.regex !== undefined) checkRegex(path.regex, [...at, 'match', 'path', 'regex'], report);
      }
      r.match?.headers?.forEach((h, hi) => {
        const hp = [...at, 'match', 'headers', hi];
        if (!isToken(h.name)) report([...hp, 'name'], `invalid header name "${h.name}"`);
        if (h.regex !== undefined) checkRegex(h.regex, [...hp, 'regex'], report);
      });
      const methods = r.match?.method;
      for (const m of typeof methods === 'string' ? [methods] : (methods ?? [])) {
        if (!isToken(m) || m !== m.toUpperCase()) report([...at, 'match', 'method'], `invalid method "${m}" (methods are upper-case tokens)`);
      }
      checkHeaderRules(r.requestHeaders, [...at, 'requestHeaders'], report);
      checkHeaderRules(r.responseHeaders, [...at, 'responseHeaders'], report);
      const d = r.directResponse;
      if (d?.headers !== undefined) checkHeaderMap(d.headers, [...at, 'directResponse', 'headers'], report);
    });
  });
  return problems;
}

/** Listener keys that only one protocol uses: set on the other, they are mistakes, reported as such. */
const HTTP_ONLY = ['routes', 'engine', 'maxRequestHeadersBytes', 'maxRequestUriBytes', 'maxRequestHeaders', 'upgrades'] as const;
const HTTP_ONLY_TIMEOUTS = ['headerMs', 'bodyMs', 'requestMs', 'tunnelIdleMs'] as const;
const TCP_ONLY = ['cluster', 'maxConnectAttempts', 'accessLog'] as const;

function checkProtocolKeys(l: ListenerConfig, li: number, clusterNames: ReadonlySet<string>, report: (p: (string | number)[], m: string) => void): void {
  const at = ['listeners', li];
  if (l.protocol === 'tcp') {
    for (const key of HTTP_ONLY) if (l[key] !== undefined) report([...at, key], `"${key}" applies to http listeners only (this one is protocol: tcp)`);
    for (const key of HTTP_ONLY_TIMEOUTS) {
      if (l.timeouts?.[key] !== undefined) report([...at, 'timeouts', key], `"${key}" applies to http listeners only (this one is protocol: tcp)`);
    }
    if (l.cluster !== undefined && !clusterNames.has(l.cluster)) {
      report([...at, 'cluster'], `unknown cluster "${l.cluster}" (known: ${[...clusterNames].map((n) => `"${n}"`).join(', ') || 'none defined'})`);
    }
    if (l.cluster === undefined && (l.filters ?? []).length === 0) report(at, 'a tcp listener needs "cluster" (or a filter such as sni-router that picks one)');
    return;
  }
  if (l.routes === undefined) report(at, 'an http listener needs "routes" (or protocol: tcp with a "cluster")');
  for (const key of TCP_ONLY) if (l[key] !== undefined) report([...at, key], `"${key}" applies to tcp listeners only (add protocol: tcp)`);
  if (l.timeouts?.maxSessionMs !== undefined) report([...at, 'timeouts', 'maxSessionMs'], '"maxSessionMs" applies to tcp listeners only (add protocol: tcp)');
}

function checkRegex(source: string, path: (string | number)[], report: (p: (string | number)[], m: string) => void): void {
  try {
    new RegExp(source);
  } catch (err) {
    report(path, `invalid regular expression: ${(err as Error).message}`);
  }
}

function checkHeaderRules(rules: HeaderRulesConfig | undefined, path: (string | number)[], report: (p: (string | number)[], m: string) => void): void {
  if (rules === undefined) return;
  if (rules.add) checkHeaderMap(rules.add, [...path, 'add'], report);
  if (rules.set) checkHeaderMap(rules.set, [...path, 'set'], report);
  rules.remove?.forEach((name, i) => {
    if (!isToken(name)) report([...path, 'remove', i], `invalid header name "${name}"`);
  });
}

function checkHeaderMap(map: Record<string, string>, path: (string | number)[], report: (p: (string | number)[], m: string) => void): void {
  for (const [name, value] of Object.entries(map)) {
    if (!isToken(name)) report([...path, name], `invalid header name "${name}"`);
    else if (!isSafeFieldValue(value)) report([...path, name], 'header value contains CR, LF, NUL or a control byte');
  }
}
