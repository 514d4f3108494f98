// Built-in filters by name.

import type { FilterDefinition } from './api.ts';
import headers from './headers.ts';

export const builtinFilters: ReadonlyMap<string, FilterDefinition> = new Map<string, FilterDefinition>([
  [headers.name, headers as unknown as FilterDefinition],
]);
