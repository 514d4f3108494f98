// Filter configuration errors are config errors: file:line:col, the path, and what is wrong, never a crash.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../config/load-config.ts';
import { ConfigError } from '../../../core/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'mantou-filter-config-'));
const fixture = (name: string) => new URL(`../../fixtures/filters/${name}.ts`, import.meta.url).pathname;
writeFileSync(join(dir, 'no-default.ts'), 'export const x = 1;\n');
writeFileSync(join(dir, 'not-a-filter.ts'), 'export default { name: "x" };\n');
writeFileSync(join(dir, 'broken.ts'), 'export default {\n');

function config(filters: string, routeFilters = ''): string {
  return `listeners:
  - name: edge
    port: 8080
    filters:
${filters}
    routes:
      - match: { path: { prefix: / } }
        cluster: backend
${routeFilters}
clusters:
  - name: backend
    endpoints: [{ address: 127.0.0.1, port: 9000 }]
`;
}

async function errorsOf(text: string): Promise<string[]> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  try {
    await loadConfigFile(file, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n').map((l) => l.replace(`${file}:`, ''));
    throw err;
  }
  throw new Error('config was accepted');
}

describe('filter configuration', () => {
  it('accepts built-in and module filters with valid options, and route overrides that name them', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(
      file,
      config(
        `      - { name: tag, module: ${fixture('tag')}, config: { value: v } }\n      - { name: headers, config: { request: { set: { x-a: b } } } }`,
        '        filters: { tag: { disabled: true } }',
      ),
    );
    const loaded = await loadConfigFile(file, {});
    expect(Object.keys(loaded.filterModules)).toEqual([fixture('tag')]);
    expect(loaded.filterModules[fixture('tag')]).toMatch(/^file:.*tag\.ts\?v=[0-9a-f]{16}$/);
  });

  const cases: [string, string, string, RegExp][] = [
    [
      'an unknown built-in filter',
      '      - { name: nope }',
      '',
      /^5:17 listeners\[0\]\.filters\[0\]\.name: unknown built-in filter "nope" \(built-in: headers.*\); a custom filter needs "module"$/,
    ],
    [
      'a module file that does not exist',
      '      - { name: x, module: ./missing.ts }',
      '',
      /^5:28 listeners\[0\]\.filters\[0\]\.module: cannot read filter module .*missing\.ts \(ENOENT\)$/,
    ],
    [
      'a module that does not compile',
      '      - { name: x, module: ./broken.ts }',
      '',
      /^5:28 listeners\[0\]\.filters\[0\]\.module: cannot load filter module .*broken\.ts: /,
    ],
    [
      'a module without a default export',
      '      - { name: x, module: ./no-default.ts }',
      '',
      /module .*no-default\.ts has no default export \(export default defineFilter/,
    ],
    [
      'a default export that is not a filter',
      '      - { name: x, module: ./not-a-filter.ts }',
      '',
      /not-a-filter\.ts: the default export is not a filter definition/,
    ],
    [
      'an invalid option',
      `      - name: tag\n        module: ${fixture('tag')}\n        config: { value: "" }`,
      '',
      /^7:26 listeners\[0\]\.filters\[0\]\.config\.value: expected a non-empty string, got ""$/,
    ],
    [
      'an unknown option key',
      `      - { name: tag, module: ${fixture('tag')}, config: { value: v, colour: red } }`,
      '',
      /listeners\[0\]\.filters\[0\]\.config\.colour: unknown key "colour"/,
    ],
    [
      'a repeated filter name',
      '      - { name: headers }\n      - { name: headers }',
      '',
      /^6:17 listeners\[0\]\.filters\[1\]\.name: duplicate filter name "headers" in this listener$/,
    ],
    [
      'a route override of a filter the listener lacks',
      '      - { name: headers }',
      '        filters: { cors: { disabled: true } }',
      /^9:26 listeners\[0\]\.routes\[0\]\.filters\.cors: no filter "cors" on this listener to override \(listener filters: "headers"\)$/,
    ],
    [
      'an invalid option in a route override',
      `      - { name: tag, module: ${fixture('tag')}, config: { value: v } }`,
      '        filters: { tag: { config: { value: 3 } } }',
      /listeners\[0\]\.routes\[0\]\.filters\.tag\.config\.value: expected a non-empty string, got 3$/,
    ],
  ];
  for (const [name, filters, routeFilters, expected] of cases) {
    it(`reports ${name} with its position`, async () => {
      const errors = await errorsOf(config(filters, routeFilters));
      expect(
        errors.some((e) => expected.test(e)),
        errors.join('\n'),
      ).toBe(true);
    });
  }
});
