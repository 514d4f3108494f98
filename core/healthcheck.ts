// `mantou healthcheck`: asks the admin port's /ready and exits 0 on 200, 1 otherwise — what a container's
// HEALTHCHECK runs (slim images have no curl). The admin address comes from --admin, else from the config file's
// `admin` (an address of 0.0.0.0 or :: is probed on loopback), else the default 127.0.0.1:9901.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { parse as parseYaml } from 'yaml';

const DEFAULT_ADMIN = { host: '127.0.0.1', port: 9901 };
const TIMEOUT_MS = 3000;

export interface AdminTarget {
  host: string;
  port: number;
}

/** Where the admin port is: "--admin host:port" (or just a port), else the config file's `admin`, else the default. */
export function adminTarget(admin: string | undefined, configFile: string | undefined): AdminTarget {
  if (admin !== undefined) {
    const at = admin.lastIndexOf(':');
    const port = Number(at < 0 ? admin : admin.slice(at + 1));
    const host = at < 0 ? DEFAULT_ADMIN.host : admin.slice(0, at).replace(/^\[|\]$/g, '');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--admin: "${admin}" is not host:port`);
    return { host: loopbackFor(host), port };
  }
  if (configFile === undefined) return DEFAULT_ADMIN;
  // Only the `admin` block is needed: a plain YAML read, without validating or importing filters.
  const doc = parseYaml(readFileSync(configFile, 'utf8')) as { admin?: { address?: string; port?: number } } | null;
  const a = doc?.admin ?? {};
  return { host: loopbackFor(a.address ?? DEFAULT_ADMIN.host), port: typeof a.port === 'number' && a.port > 0 ? a.port : DEFAULT_ADMIN.port };
}

function loopbackFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** The /ready status (0 when nothing answered) and a one-line description. */
export function probeReady(target: AdminTarget): Promise<{ status: number; line: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: target.host, port: target.port, path: '/ready', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, line: `ready: ${res.statusCode} from ${target.host}:${target.port}` }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, line: `not ready: ${target.host}:${target.port} ${err.code ?? err.message}` }));
  });
}
