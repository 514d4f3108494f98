// Runs the real proxy (the CLI, in its own process) on a config written to a temp file, and reads the ports it
// bound from its start-up log line. Tests talk to it over loopback sockets only.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { defaults } from '../../config/schema.ts';
import type { HttpEngine } from '../../core/http/http-listener.ts';
import { MANTOU_NODE_FLAGS } from '../../core/node-flags.ts';

const CLI = new URL('../../core/cli.ts', import.meta.url).pathname;

export interface ProxyProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** The admin port (tests run it on a free port unless the config says otherwise). */
  readonly adminPort: number;
  readonly configFile: string;
  /** Port bound by the named listener. */
  port(listener: string): number;
  url(listener: string, path?: string): string;
  /** Resident set size of the proxy process in bytes (from /proc). */
  rssBytes(): number;
  output(): string;
  stop(): Promise<number | null>;
}

/** The engine the shared integration suite runs on (set per vitest project), or undefined for the default. */
function requestedEngine(): HttpEngine | undefined {
  const e = process.env.MANTOU_TEST_ENGINE;
  return e === 'net' || e === 'uws' || e === 'native' ? e : undefined;
}

/** The engine listeners without an explicit `engine` run on in this test run. */
export function testEngine(): HttpEngine {
  return requestedEngine() ?? defaults.engine;
}

/** Sets the suite's engine on every listener that does not choose one itself. */
function withTestEngine(yaml: string): string {
  const engine = requestedEngine();
  if (engine === undefined) return yaml;
  const doc = YAML.parseDocument(yaml);
  const listeners = doc.get('listeners');
  if (!YAML.isSeq(listeners)) return yaml;
  for (const l of listeners.items) if (YAML.isMap(l) && !l.has('engine') && l.get('protocol') !== 'tcp') l.set('engine', engine);
  return doc.toString();
}

/** How the proxy is started: `command` with `args` before `run -c FILE`. */
export interface Launch {
  command: string;
  args: readonly string[];
}

/** As `npm start` starts it (core/node-flags.ts). */
const NPM_START: Launch = { command: process.execPath, args: [...MANTOU_NODE_FLAGS, CLI] };

export async function startProxy(yamlText: string, env: NodeJS.ProcessEnv = {}, launch: Launch = NPM_START): Promise<ProxyProcess> {
  const yaml = withTestEngine(yamlText);
  const dir = mkdtempSync(join(tmpdir(), 'mantou-test-'));
  const file = join(dir, 'mantou.yaml');
  // Parallel test files must not fight over the default admin port.
  writeFileSync(file, /^admin:/m.test(yaml) ? yaml : `${yaml}\nadmin: { port: 0 }\n`);
  const child = spawn(launch.command, [...launch.args, 'run', '-c', file], {
    env: { ...process.env, MANTOU_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const started = await new Promise<{ ports: Record<string, number>; admin: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start:\n${out}`)), 10_000);
    const check = () => {
      for (const line of out.split('\n')) {
        if (!line.includes('"mantou started"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { ports: Record<string, number>; admin: number });
        return;
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}:\n${out}`));
    });
  });
  const ports = started.ports;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid as number,
    child,
    adminPort: started.admin,
    configFile: file,
    port(name) {
      const p = ports[name];
      if (p === undefined) throw new Error(`no listener ${name}`);
      return p;
    },
    url(name, path = '/') {
      const p = ports[name];
      if (p === undefined) throw new Error(`no listener ${name}`);
      return `http://127.0.0.1:${p}${path}`;
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 'NaN');
      return kb * 1024;
    },
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
