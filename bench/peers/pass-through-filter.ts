// A filter that does nothing in onRequest and onResponse: `npm run bench:filters` stacks N of them to measure
// what the chain itself costs per filter.
import { defineFilter, T } from '../../filters/api.ts';

export default defineFilter({
  name: 'pass-through',
  config: T.Object({}),
  create: () => ({
    onRequest() {},
    onResponse() {},
  }),
});
