// Built-in filters by name: what a listener's `filters: [{ name }]` can use without a module.

import type { FilterDefinition } from './api.ts';
import bodyLimit from './body-limit.ts';
import bodyScan from './body-scan.ts';
import cors from './cors.ts';
import fault from './fault.ts';
import headers from './headers.ts';
import ipAccess from './ip-access.ts';
import jwtAuth from './jwt-auth.ts';
import localRateLimit from './local-rate-limit.ts';

const all = [headers, cors, localRateLimit, fault, ipAccess, bodyLimit, jwtAuth, bodyScan] as unknown as FilterDefinition[];

export const builtinFilters: ReadonlyMap<string, FilterDefinition> = new Map(all.map((d) => [d.name, d]));
