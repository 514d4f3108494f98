// Lets a custom filter module anywhere on disk import Mantou's filter API by name: `import { defineFilter, T }
// from 'mantou'` resolves to filters/api.ts, whatever directory the module lives in (a config directory such as
// /etc/mantou has no node_modules of its own). An in-thread synchronous resolve hook; each thread that imports
// filter modules (the supervisor to check them, every worker to run them) registers it once.

import { registerHooks } from 'node:module';

const API_URL = new URL('../filters/api.ts', import.meta.url).href;
const NAMES = new Set(['mantou', 'mantou/filters']);
let registered = false;

export function registerFilterImports(): void {
  if (registered) return;
  registered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (NAMES.has(specifier)) return { url: API_URL, format: 'module', shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}
