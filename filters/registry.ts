// Built-in filters by name: what a listener's `filters: [{ name }]` can use without a module (HTTP filters on
// http listeners, connection filters on tcp listeners).

import type { FilterDefinition } from './api.ts';
import bodyLimit from './body-limit.ts';
import bodyScan from './body-scan.ts';
import type { ConnectionFilterDefinition } from './connection-api.ts';
import connectionIpAccess from './connection-ip-access.ts';
import connectionLimit from './connection-limit.ts';
import cors from './cors.ts';
import fault from './fault.ts';
import headers from './headers.ts';
import ipAccess from './ip-access.ts';
import jwtAuth from './jwt-auth.ts';
import localRateLimit from './local-rate-limit.ts';
import proxyProtocol from './proxy-protocol.ts';
import sniRouter from './sni-router.ts';

const all = [headers, cors, localRateLimit, fault, ipAccess, bodyLimit, jwtAuth, bodyScan] as unknown as FilterDefinition[];

export const builtinFilters: ReadonlyMap<string, FilterDefinition> = new Map(all.map((d) => [d.name, d]));

/** Built-in connection filters, for `protocol: tcp` listeners (`ip-access` has an L4 twin of the same name). */
export const builtinConnectionFilters: ReadonlyMap<string, ConnectionFilterDefinition> = new Map(
  [connectionIpAccess, connectionLimit, sniRouter, proxyProtocol].map((d) => [d.name, d as unknown as ConnectionFilterDefinition]),
);
