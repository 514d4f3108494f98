// The candidates of a benchmark run, each started once and pointed at the same upstream: direct (the floor),
// Mantou with 1 worker on each downstream engine and with N workers on the default one, nginx, HAProxy, http-proxy and fastify. A peer that is not installed
// is reported as skipped. Every proxy under test runs on CPU 1; the load generator and the upstream on CPU 0.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpEngine } from '../core/http/http-listener.ts';
import { MANTOU_NODE_FLAGS } from '../core/node-flags.ts';

export interface Candidate {
  readonly name: string;
  readonly port: number;
  /** Processes whose CPU and memory count for this candidate (none for direct). */
  readonly pids: number[];
  /** Mantou's admin port, where the bench reads its garbage collections around each latency round. */
  readonly adminPort?: number;
  stop(): Promise<void>;
}

export interface StartContext {
  upstreamPort: number;
  dir: string;
}

export interface CandidateSpec {
  readonly name: string;
  readonly placement: string;
  /** Why it cannot run here, or null when it can. */
  missing(): string | null;
  /** Runs only when named in --candidates (keeps the default run within its time budget). */
  readonly optIn?: boolean;
  /** The scenarios it is measured in (absent: every one). */
  readonly scenarios?: readonly string[];
  start(ctx: StartContext): Promise<Candidate>;
}

export const PROXY_CPU = '1';
export const LOAD_CPU = '0';
export const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

/**
 * Pins this process (every thread) to LOAD_CPU. A bench whose load generator runs in its own process (the
 * open-loop probe, autocannon) calls it first: unpinned, the scheduler puts the generator on the proxy's core
 * whenever it likes, and the proxy's latency then includes waiting for its own client.
 */
export function pinSelfToLoadCpu(): void {
  if (hasTaskset) spawnSync('taskset', ['-a', '-p', '-c', LOAD_CPU, String(process.pid)], { stdio: 'ignore' });
}

/** `--rounds N` (or `--rounds=N`) from the command line, a whole number of at least 1, else `fallback`; anything else exits 2. */
export function roundsArg(fallback: number): number {
  const at = process.argv.findIndex((a) => a === '--rounds' || a.startsWith('--rounds='));
  if (at < 0) return fallback;
  const arg = process.argv[at] as string;
  const given = arg === '--rounds' ? process.argv[at + 1] : arg.slice('--rounds='.length);
  const rounds = Number(given);
  if (Number.isInteger(rounds) && rounds >= 1) return rounds;
  console.error(`--rounds wants a whole number of rounds, at least 1 (got ${given})`);
  process.exit(2);
}

/** Whether `cmd` is installed (on PATH). */
export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

export function pinnedSpawn(cpus: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [c, a] = hasTaskset ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args];
  return spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Node's arguments to run Mantou on config `file` as `npm start` does (with MANTOU_NODE_FLAGS: core/node-flags.ts). */
export function mantouArgs(file: string): string[] {
  return [...MANTOU_NODE_FLAGS, 'core/cli.ts', 'run', '-c', file];
}

/** Spawns a Node script (pinned when `cpus` is given) and resolves once its stdout matches `ready`. */
export function spawnUntil(
  args: string[],
  ready: RegExp,
  cpus?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return spawnCommandUntil(process.execPath, args, ready, cpus, env);
}

/** spawnUntil for any command. */
export function spawnCommandUntil(
  cmd: string,
  args: string[],
  ready: RegExp,
  cpus?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = cpus === undefined ? spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], env }) : pinnedSpawn(cpus, cmd, args, env);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${out}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${args.join(' ')}\n${out}`));
    });
  });
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Waits until `port` accepts connections (peers that print nothing when ready). */
export async function waitForPort(port: number, child: ChildProcess, name: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not open port ${port}`);
}

export function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

/**
 * Interrupted (Ctrl-C, or a timeout's SIGTERM), a bench script still stops what it started: its proxies, peers and
 * upstreams are its children and would otherwise outlive it. Runs `stop` once, then exits 130.
 */
export function stopOnSignal(stop: () => Promise<void> | void): void {
  const interrupted = (signal: NodeJS.Signals) => {
    console.log(`\n${signal}: stopping what the bench started`);
    void Promise.resolve()
      .then(stop)
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
}

/**
 * A fresh directory for a bench run's configs and peers' scratch files (nginx's temp paths), removed when the
 * process exits — normally, on an error, or through stopOnSignal's exit — so runs leave nothing in the temp dir.
 */
export function benchTempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `mantou-bench-${label}-`));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid that does the work: the child itself, or taskset's exec'd program (same pid). */
function pidOf(child: ChildProcess): number {
  return child.pid as number;
}

export function template(file: string, values: Record<string, string | number>): string {
  let text = readFileSync(new URL(`./peers/${file}`, import.meta.url), 'utf8');
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{{${k}}}`, String(v));
  return text;
}

/** The built-in filters configured to let everything through: what a typical edge chain costs. */
export const BUILTIN_CHAIN = [
  '{ name: headers, config: { request: { set: { x-via: "%listener%" } } } }',
  '{ name: cors, config: { allowOrigins: ["*"] } }',
  '{ name: local-rate-limit, config: { tokensPerFill: 1000000, fillIntervalMs: 1000, maxTokens: 1000000 } }',
  '{ name: ip-access, config: { allow: ["0.0.0.0/0", "::/0"] } }',
  '{ name: body-limit, config: { maxBytes: 16777216 } }',
];

/** `engine` undefined: the listener's default engine (what users get without choosing). `busyPollUs` > 0: that config key. */
export function mantou(
  workers: number,
  cpus: string,
  engine?: HttpEngine,
  filters: readonly string[] = [],
  optIn = filters.length > 0,
  busyPollUs = 0,
): CandidateSpec {
  const name = `mantou-${engine === undefined ? '' : `${engine}-`}${filters.length > 0 ? 'chain-' : ''}${busyPollUs > 0 ? 'busypoll-' : ''}${workers}w`;
  const chain = filters.length === 0 ? '' : `    filters:\n${filters.map((f) => `      - ${f}\n`).join('')}`;
  return {
    name,
    placement: `CPU ${cpus}`,
    optIn,
    missing: () => null,
    async start(ctx) {
      const file = join(ctx.dir, `${name}.yaml`);
      const engineLine = engine === undefined ? '' : `    engine: ${engine}\n`;
      writeFileSync(
        file,
        `workers: ${workers}\n${busyPollUs > 0 ? `busyPollUs: ${busyPollUs}\n` : ''}admin: { port: 0 }\nlisteners:\n  - name: bench\n    address: 127.0.0.1\n    port: 0\n${engineLine}${chain}    routes: [{ cluster: upstream }]\nclusters:\n  - name: upstream\n    endpoints: [{ address: 127.0.0.1, port: ${ctx.upstreamPort} }]\n`,
      );
      const { child, match } = await spawnUntil(mantouArgs(file), /"ports":\{"bench":(\d+)\},"admin":(\d+)/, cpus);
      child.stdout?.resume();
      return { name, port: Number(match[1]), adminPort: Number(match[2]), pids: [pidOf(child)], stop: stopper(child) };
    },
  };
}

function nodePeer(name: string, script: string): CandidateSpec {
  return {
    name,
    placement: `CPU ${PROXY_CPU}`,
    missing: () => null,
    async start(ctx) {
      const port = await freePort();
      const child = pinnedSpawn(PROXY_CPU, process.execPath, [script, '--port', String(port), '--upstream', String(ctx.upstreamPort)]);
      child.stdout?.resume();
      await waitForPort(port, child, name);
      return { name, port, pids: [pidOf(child)], stop: stopper(child) };
    },
  };
}

export const candidateSpecs: CandidateSpec[] = [
  {
    name: 'direct',
    placement: 'no proxy',
    missing: () => null,
    async start(ctx) {
      return { name: 'direct', port: ctx.upstreamPort, pids: [], stop: async () => {} };
    },
  },
  // The default engine on one core; the other two engines on one core are opt in (--candidates
  // …,mantou-uws-1w,mantou-net-1w: with them the default run would pass 15 minutes); then the default engine on
  // every core.
  mantou(1, PROXY_CPU, 'native'),
  mantou(1, PROXY_CPU, 'uws', [], true),
  // Opt in: the default engine with busyPollUs 100 (README, busy polling): lower latency at low rates for more CPU.
  mantou(1, PROXY_CPU, 'native', [], true, 100),
  mantou(1, PROXY_CPU, 'net', [], true),
  // The default engine with the built-in filter chain on, letting everything through: what the chain costs a
  // small GET, next to the same proxy without it (the other scenarios would measure the same chain again).
  { ...mantou(1, PROXY_CPU, undefined, BUILTIN_CHAIN, false), scenarios: ['small-get'] },
  mantou(availableParallelism(), Array.from({ length: availableParallelism() }, (_, i) => i).join(',')),
  {
    name: 'nginx',
    placement: `CPU ${PROXY_CPU}`,
    missing: () => (onPath('nginx') ? null : 'nginx not installed (bench/setup-peers.sh)'),
    async start(ctx) {
      const port = await freePort();
      const conf = join(ctx.dir, 'nginx.conf');
      writeFileSync(conf, template('nginx.conf', { DIR: ctx.dir, PORT: port, UPSTREAM: ctx.upstreamPort }));
      const child = pinnedSpawn(PROXY_CPU, 'nginx', ['-c', conf, '-p', ctx.dir]);
      child.stderr?.resume();
      await waitForPort(port, child, 'nginx');
      return { name: 'nginx', port, pids: [pidOf(child)], stop: stopper(child) };
    },
  },
  {
    name: 'haproxy',
    placement: `CPU ${PROXY_CPU}`,
    missing: () => (onPath('haproxy') ? null : 'haproxy not installed (bench/setup-peers.sh)'),
    async start(ctx) {
      const port = await freePort();
      const cfg = join(ctx.dir, 'haproxy.cfg');
      writeFileSync(cfg, template('haproxy.cfg', { PORT: port, UPSTREAM: ctx.upstreamPort }));
      const child = pinnedSpawn(PROXY_CPU, 'haproxy', ['-f', cfg, '-db']);
      child.stderr?.resume();
      child.stdout?.resume();
      await waitForPort(port, child, 'haproxy');
      return { name: 'haproxy', port, pids: [pidOf(child)], stop: stopper(child) };
    },
  },
  nodePeer('http-proxy', 'bench/peers/http-proxy-server.ts'),
  nodePeer('fastify', 'bench/peers/fastify-proxy-server.ts'),
];
