import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../config/load-config.ts';
import { ConfigError } from '../../../core/errors.ts';

const base = `listeners:
  - name: edge
    port: 8080
    routes:
      - match: { path: { prefix: / } }
        cluster: backend
clusters:
  - name: backend
    endpoints:
      - address: 127.0.0.1
        port: 9000
`;

function errorsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(text, 'm.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
  throw new Error('config was accepted');
}

describe('parseConfig accepts valid configs', () => {
  it('parses the base config', () => {
    expect(parseConfig(base, 'm.yaml', {}).listeners[0]?.port).toBe(8080);
  });
  it('expands ${VAR} and ${VAR:-default} in scalars and re-types plain scalars', () => {
    const c = parseConfig(base.replace('port: 9000', 'port: ${UP_PORT}').replace('port: 8080', 'port: ${EDGE:-8181}'), 'm.yaml', { UP_PORT: '9001' });
    expect(c.clusters?.[0]?.endpoints[0]?.port).toBe(9001);
    expect(c.listeners[0]?.port).toBe(8181);
  });
});

describe('parseConfig reports every broken config with file:line:col, path and a clear message', () => {
  const cases: [string, string, string][] = [
    [
      'a port that is not a number',
      base.replace('port: 9000', 'port: 80a'),
      'm.yaml:11:15 clusters[0].endpoints[0].port: expected integer 1..65535, got "80a"',
    ],
    ['a port out of range', base.replace('port: 9000', 'port: 70000'), 'm.yaml:11:15 clusters[0].endpoints[0].port: expected integer 1..65535, got 70000'],
    [
      'an unknown key with a suggestion',
      base.replace('    routes:', '    routs: []\n    routes:'),
      'm.yaml:4:5 listeners[0].routs: unknown key "routs" (did you mean "routes"?)',
    ],
    ['a missing required key', base.replace('  - name: edge\n    port: 8080', '  - port: 8080'), 'm.yaml:2:5 listeners[0].name: missing required key "name"'],
    [
      'a route to an unknown cluster',
      base.replace('cluster: backend', 'cluster: backedn'),
      'm.yaml:6:18 listeners[0].routes[0].cluster: unknown cluster "backedn" (known: "backend")',
    ],
    [
      'a route with two actions',
      base.replace('        cluster: backend', '        cluster: backend\n        directResponse: { status: 200 }'),
      'm.yaml:5:9 listeners[0].routes[0]: a route needs exactly one of "cluster" or "directResponse"',
    ],
    ['an invalid path regex', base.replace('prefix: /', 'regex: "(["'), 'm.yaml:5:33 listeners[0].routes[0].match.path.regex: invalid regular expression'],
    [
      'a path prefix without a leading slash',
      base.replace('prefix: /', 'prefix: api'),
      'm.yaml:5:34 listeners[0].routes[0].match.path.prefix: expected a string starting with "/", got "api"',
    ],
    [
      'an unset variable without a default',
      base.replace('port: 9000', 'port: ${NOPE}'),
      'm.yaml:11:15 clusters[0].endpoints[0].port: environment variable NOPE is not set and has no default',
    ],
    ['invalid YAML', 'listeners: [\n  - name', 'm.yaml:'],
    [
      'duplicate cluster names',
      `${base}  - name: backend\n    endpoints: [{ address: a, port: 1 }]\n`,
      'm.yaml:12:11 clusters[1].name: duplicate cluster name "backend"',
    ],
    [
      'a header value with CR/LF',
      base.replace('        cluster: backend', '        cluster: backend\n        responseHeaders: { set: { x-a: "a\\r\\nb: c" } }'),
      'listeners[0].routes[0].responseHeaders.set.x-a: header value contains CR, LF',
    ],
    ['workers of the wrong kind', `workers: many\n${base}`, 'm.yaml:1:10 workers: expected "auto" or integer 1..256, got "many"'],
    ['a busy poll past a millisecond', `busyPollUs: 5000\n${base}`, 'm.yaml:1:13 busyPollUs: expected integer 0..1000, got 5000'],
    [
      'an empty route list',
      base.replace(/ {4}routes:\n.*\n.*\n/, '    routes: []\n'),
      'listeners[0].routes: expected a list of at least 1 item(s), got a list',
    ],
  ];
  for (const [name, text, expected] of cases) {
    it(`reports ${name}`, () => {
      const errors = errorsOf(text);
      expect(
        errors.some((e) => e.includes(expected)),
        `got:\n${errors.join('\n')}`,
      ).toBe(true);
    });
  }

  it('reports all problems at once, not only the first', () => {
    const text = base.replace('port: 9000', 'port: 0').replace('port: 8080', 'port: -1');
    expect(errorsOf(text)).toHaveLength(2);
  });
});
