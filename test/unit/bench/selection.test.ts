// `npm run bench -- --candidates/--scenarios`: names that match nothing are an error before anything starts.

import { describe, expect, it } from 'vitest';
import { unknownNames, unknownNamesError } from '../../../bench/selection.ts';

describe('bench selection', () => {
  const known = ['direct', 'mantou-native-1w', 'mantou-2w', 'nginx'];

  it('finds the names that match nothing, and none when nothing was asked for', () => {
    expect(unknownNames(['direct', 'mantou-native-2w', 'nginx', 'fastify-proxy'], known)).toEqual(['mantou-native-2w', 'fastify-proxy']);
    expect(unknownNames(['direct', 'mantou-2w'], known)).toEqual([]);
    expect(unknownNames(undefined, known)).toEqual([]);
  });

  it('says which names are unknown and which are known', () => {
    expect(unknownNamesError('candidates', ['mantou-native-2w'], known)).toBe(
      'unknown candidates: mantou-native-2w (known: direct, mantou-native-1w, mantou-2w, nginx)',
    );
    expect(unknownNamesError('scenarios', ['direct'], known)).toBeNull();
  });
});
