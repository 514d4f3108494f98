// body-scan's matching over the body's bytes (filters/latin1-scan.ts, native/latin1-view.c): the string over them has
// the text of a latin1 copy, over shared and ordinary memory and at an offset; it keeps the body's memory alive for
// as long as it lives, then lets it go (both checked in a child Node with --expose-gc); and a match does not leave it
// reachable in RegExp's legacy statics, where a reused body's bytes would show through.

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../../../core/native-addon.ts';
import scan from '../../../filters/body-scan-task.ts';
import { firstMatchLatin1 } from '../../../filters/latin1-scan.ts';

const { addon } = loadNativeAddon<{ latin1View(bytes: Uint8Array): string }>();
const ADDON_URL = new URL('../../../core/native-addon.ts', import.meta.url).href;

describe.skipIf(addon === null)('latin1View', () => {
  it('gives the latin1 text of every byte value, over shared memory and at an offset', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(300));
    for (let i = 0; i < 300; i++) shared[i] = i & 0xff;
    const whole = addon?.latin1View(shared) ?? '';
    expect(whole).toBe(Buffer.from(shared).toString('latin1'));
    expect(whole.charCodeAt(255)).toBe(255);
    const part = shared.subarray(40, 50);
    expect(addon?.latin1View(part)).toBe(Buffer.from(part).toString('latin1'));
    expect(addon?.latin1View(new Uint8Array(0))).toBe('');
    expect(() => addon?.latin1View(new Uint16Array(4) as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('keeps the body alive while the string lives, and releases it after', () => {
    const script = `
      const { loadNativeAddon } = await import(${JSON.stringify(ADDON_URL)});
      const { addon } = loadNativeAddon();
      const mib = () => Math.round(process.memoryUsage().arrayBuffers / 1048576);
      const settle = async () => { for (let i = 0; i < 4; i++) { gc(); await new Promise((r) => setImmediate(r)); } };
      // One string whose body has no other holder: its text must survive collections and new allocations.
      let kept = addon.latin1View(new Uint8Array(new SharedArrayBuffer(1 << 20)).fill(0x61));
      await settle();
      const churn = [];
      for (let i = 0; i < 8; i++) churn.push(new Uint8Array(1 << 20).fill(0x62));
      const intact = kept.length === 1 << 20 && /^a+$/.test(kept);
      churn.length = 0;
      // Thirty-two strings over 1 MiB bodies that only the strings hold: alive while the strings are, freed after.
      let strings = [];
      for (let i = 0; i < 32; i++) strings.push(addon.latin1View(new Uint8Array(1 << 20).fill(0x63)));
      await settle();
      const before = mib();
      strings = null;
      kept = null;
      await settle();
      console.log(JSON.stringify({ intact, before, after: mib() }));
    `;
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const { intact, before, after } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(intact).toBe(true);
    expect(before).toBeGreaterThanOrEqual(33);
    expect(after).toBeLessThan(4);
  });
});

describe('body-scan task', () => {
  it('finds the first matching pattern in a shared body, byte patterns included', () => {
    const text = 'POST data ... DROP   TABLE users; \xff\xfe end';
    const body = new Uint8Array(new SharedArrayBuffer(text.length + 8)).subarray(4, 4 + text.length);
    body.set(Buffer.from(text, 'latin1'));
    expect(scan({ body, patterns: ['union\\s+select', 'drop\\s+table'], flags: 'i' })).toBe(1);
    expect(scan({ body, patterns: ['\\xff\\xfe'], flags: '' })).toBe(0);
    expect(scan({ body, patterns: ['nothing here'], flags: 'i' })).toBe(-1);
  });

  it('leaves no view of the body in RegExp.input after a match', () => {
    const body = Buffer.from('a body with a secret-token-0123456789abcdef in it');
    expect(firstMatchLatin1([/absent/, /secret-token-[0-9a-f]{16}/], body)).toBe(1);
    expect((RegExp as unknown as { input: string }).input).toBe('');
  });
});
