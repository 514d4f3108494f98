// The benchmarks' fixed-response upstream. The C one (bench/upstream/fixed-upstream.c, compiled here with cc on
// first use) costs the load core a few µs per small request; bench/upstream-server.ts (uWebSockets.js), the
// fallback without a C compiler, costs about 12 µs, and with the load generator beside it on one core it saturated
// that core before the proxy under test saturated its own: a throughput round then measured the load core.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnCommandUntil, spawnUntil } from './candidates.ts';

const here = dirname(fileURLToPath(import.meta.url));

export interface BenchUpstream {
  readonly port: number;
  readonly pid: number;
  /** What serves: for the report. */
  readonly kind: string;
  stop(): void;
}

/**
 * A C program of bench/upstream/ (`name`.c), compiled to bench/upstream/build/`name` when missing or older than its
 * source; its path, or null and why when it cannot be built.
 */
export function compiledBenchProgram(name: string, ccArgs: readonly string[] = []): { path: string | null; why?: string } {
  const source = join(here, 'upstream', `${name}.c`);
  const binary = join(here, 'upstream', 'build', name);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return { path: binary };
  try {
    mkdirSync(dirname(binary), { recursive: true });
    // Built beside, then renamed: a concurrent start never runs a half-written binary.
    const tmp = `${binary}.${process.pid}.tmp`;
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', ...ccArgs, '-o', tmp, source], { stdio: ['ignore', 'ignore', 'pipe'] });
    renameSync(tmp, binary);
    return { path: binary };
  } catch (err) {
    return { path: null, why: err instanceof Error ? err.message.split('\n')[0] : String(err) };
  }
}

/** Starts the upstream (on `cpu` when given) and resolves once it listens. */
export async function startBenchUpstream(cpu?: string): Promise<BenchUpstream> {
  const fixed = compiledBenchProgram('fixed-upstream');
  const args = ['--port', '0'];
  if (fixed.path === null) {
    process.stderr.write(`bench: the C upstream cannot be built (${fixed.why}); using bench/upstream-server.ts (uWebSockets.js)\n`);
  }
  const { child, match } =
    fixed.path === null ? await spawnUntil(['bench/upstream-server.ts', ...args], LISTENING, cpu) : await spawnCommandUntil(fixed.path, args, LISTENING, cpu);
  return {
    port: Number(match[1]),
    pid: child.pid ?? 0,
    kind: fixed.path === null ? 'upstream-server.ts (uWebSockets.js)' : 'fixed-upstream.c (C, epoll)',
    stop: () => child.kill('SIGTERM'),
  };
}

const LISTENING = /listening (\d+)/;
