// A pass-through filter with every hook the native engine runs (onRequest, onUpstreamRequest, onResponse declared
// synchronousResponse, onDone), each doing nothing: `npm run bench:filters` stacks ten of them beside ten of
// pass-through-native-filter.ts (onRequest and onResponse only), so the difference is what twenty more empty hooks
// cost a request natively.
import { defineFilter, T } from '../../filters/api.ts';

export default defineFilter({
  name: 'pass-through-every-phase',
  config: T.Object({}),
  synchronousResponse: true,
  create: () => ({
    onRequest() {},
    onUpstreamRequest() {},
    onResponse() {},
    onDone() {},
  }),
});
