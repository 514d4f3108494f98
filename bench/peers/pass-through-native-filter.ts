// The pass-through filter, declared synchronousResponse (filters/api.ts): the native engine runs a chain of these
// itself, where a chain of pass-through-filter.ts goes to the net engine. `npm run bench:filters` stacks ten of
// each: the per-filter cost on either engine.
import { defineFilter, T } from '../../filters/api.ts';

export default defineFilter({
  name: 'pass-through-native',
  config: T.Object({}),
  synchronousResponse: true,
  create: () => ({
    onRequest() {},
    onResponse() {},
  }),
});
