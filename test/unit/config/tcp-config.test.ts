// TCP listener configuration: what it needs, what belongs to http listeners only, and connection filters checked
// like HTTP ones (file:line:col, the path, what is wrong).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../config/load-config.ts';
import { ConfigError } from '../../../core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'mantou-tcp-config-'));
const fixture = (name: string) => new URL(`../../fixtures/filters/${name}.ts`, import.meta.url).pathname;

function tcpConfig(listenerLines: string[]): string {
  return [
    'listeners:',
    '  - name: db',
    '    protocol: tcp',
    '    port: 5433',
    ...listenerLines.map((l) => `    ${l}`),
    'clusters:',
    '  - { name: pg, endpoints: [{ address: 127.0.0.1, port: 5432 }] }',
    '',
  ].join('\n');
}

async function load(text: string): Promise<string[]> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  try {
    await loadConfigFile(file, {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n').map((l) => l.replace(`${file}:`, ''));
    throw err;
  }
}

describe('tcp listener configuration', () => {
  it('accepts a tcp listener with a cluster, its timeouts and built-in and custom connection filters', async () => {
    expect(
      await load(
        tcpConfig([
          'cluster: pg',
          'maxConnectAttempts: 2',
          'accessLog: false',
          'timeouts: { idleMs: 60000, maxSessionMs: 3600000 }',
          'filters:',
          '  - { name: proxy-protocol, config: { accept: any, send: v2 } }',
          '  - { name: ip-access, config: { allow: [10.0.0.0/8] } }',
          '  - { name: connection-limit, config: { maxSessions: 100, maxSessionsPerSecond: 20 } }',
          `  - { name: faults, module: ${fixture('connection-faults')}, config: { fail: none } }`,
        ]),
      ),
    ).toEqual([]);
  });

  it('needs a cluster (or a routing filter), and one that exists', async () => {
    expect(await load(tcpConfig([]))).toEqual(['2:5 listeners[0]: a tcp listener needs "cluster" (or a filter such as sni-router that picks one)']);
    expect(await load(tcpConfig(['cluster: mysql']))).toEqual(['5:14 listeners[0].cluster: unknown cluster "mysql" (known: "pg")']);
  });

  it('refuses http-only keys on a tcp listener and tcp-only keys on an http listener, by name', async () => {
    expect(await load(tcpConfig(['cluster: pg', 'engine: net', 'timeouts: { headerMs: 100 }']))).toEqual([
      '6:13 listeners[0].engine: "engine" applies to http listeners only (this one is protocol: tcp)',
      '7:27 listeners[0].timeouts.headerMs: "headerMs" applies to http listeners only (this one is protocol: tcp)',
    ]);
    const http =
      'listeners:\n  - name: web\n    port: 80\n    cluster: pg\n    routes: [{ cluster: pg }]\nclusters:\n  - { name: pg, endpoints: [{ address: 127.0.0.1, port: 5432 }] }\n';
    expect(await load(http)).toEqual(['4:14 listeners[0].cluster: "cluster" applies to tcp listeners only (add protocol: tcp)']);
    expect(await load('listeners:\n  - name: web\n    port: 80\n')).toEqual([
      '2:5 listeners[0]: an http listener needs "routes" (or protocol: tcp with a "cluster")',
    ]);
  });

  it('checks connection filter names and options, and keeps the two kinds of filter apart', async () => {
    expect(await load(tcpConfig(['cluster: pg', 'filters: [{ name: cors }]']))).toEqual([
      '6:23 listeners[0].filters[0].name: unknown built-in connection filter (tcp listener) "cors" (built-in: ip-access, connection-limit, sni-router, proxy-protocol); a custom filter needs "module"',
    ]);
    expect(await load(tcpConfig(['cluster: pg', 'filters: [{ name: connection-limit, config: {} }]']))).toEqual([
      '6:49 listeners[0].filters[0].config: rejected by filter "connection-limit": set maxSessions, maxSessionsPerSecond or both',
    ]);
    expect(await load(tcpConfig(['filters: [{ name: sni-router, config: { routes: [{ serverNames: [a.test], cluster: nope }] } }]']))).toEqual([
      '5:43 listeners[0].filters[0].config: rejected by filter "sni-router": unknown cluster "nope"',
    ]);
    expect(await load(tcpConfig(['cluster: pg', `filters: [{ name: tag, module: ${fixture('tag')}, config: { value: v } }]`]))).toEqual([
      expect.stringMatching(/listeners\[0\]\.filters\[0\]\.module: filter "tag" is an HTTP filter \(defineFilter\): a tcp listener takes connection filters/),
    ]);
    const http = `listeners:\n  - name: web\n    port: 80\n    filters: [{ name: q, module: ${fixture('connection-faults')} }]\n    routes: [{ cluster: pg }]\nclusters:\n  - { name: pg, endpoints: [{ address: 127.0.0.1, port: 5432 }] }\n`;
    expect(await load(http)).toEqual([
      expect.stringMatching(/filters\[0\]\.module: filter "connection-faults" is a connection filter \(defineConnectionFilter\)/),
    ]);
  });
});

describe('config/examples', () => {
  it('every example config loads', async () => {
    const { readdirSync } = await import('node:fs');
    const examples = new URL('../../../config/examples/', import.meta.url);
    const files = readdirSync(examples).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) await expect(loadConfigFile(new URL(f, examples).pathname, {}), f).resolves.toBeDefined();
  });
});
