// Config text for integration tests: one loopback `edge` listener on a free port, routes given as YAML flow
// mappings, and clusters of loopback endpoints (one each unless told, with optional extra settings).

export interface ClusterSpec {
  port: number;
  /** More endpoints after `port`'s, on these ports. */
  morePorts?: number[];
  /** Extra cluster keys as YAML lines, e.g. ['connectTimeoutMs: 300']. */
  settings?: string[];
}

/**
 * `workers` pins the worker count (pool limits are per worker, so limit tests use 1); `listenerSettings` are extra
 * listener keys as YAML lines, e.g. ['engine: net', 'timeouts: { headerMs: 300 }'].
 */
export function edgeConfig(routes: string[], clusters: Record<string, number | ClusterSpec>, workers?: number, listenerSettings: string[] = []): string {
  const lines = workers === undefined ? [] : [`workers: ${workers}`];
  lines.push('listeners:', '  - name: edge', '    address: 127.0.0.1', '    port: 0');
  for (const s of listenerSettings) lines.push(`    ${s}`);
  lines.push('    routes:');
  for (const r of routes) lines.push(`      - ${r}`);
  // No clusters (routes that only answer locally): no `clusters:` key, which would be null.
  if (Object.keys(clusters).length > 0) lines.push('clusters:');
  for (const [name, c] of Object.entries(clusters)) {
    const spec = typeof c === 'number' ? { port: c } : c;
    const endpoints = [spec.port, ...(spec.morePorts ?? [])].map((port) => `{ address: 127.0.0.1, port: ${port} }`);
    lines.push(`  - name: ${name}`, `    endpoints: [${endpoints.join(', ')}]`);
    for (const s of spec.settings ?? []) lines.push(`    ${s}`);
  }
  return `${lines.join('\n')}\n`;
}
