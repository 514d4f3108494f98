// `npm run test:container`: builds the image from the project's own Dockerfile without a Docker engine (buildah,
// vfs storage, chroot isolation, on a local Debian + Node 22 base: build-base.sh) and checks it the way a runtime
// would use it: the image's own ENTRYPOINT/CMD/USER run; the processes are not root; /ready answers 200; a request
// goes through the proxy; the image's HEALTHCHECK command passes; a config change plus SIGHUP to PID 1 (tini, which
// forwards it: what `docker kill -s HUP` does) takes effect; SIGTERM makes it drain and exit 0 within the drain
// timeout. Needs root (apt-get for buildah and debootstrap when missing); the base image is cached in
// /var/tmp/mantou-container. Processes are stopped by their PID.
// MANTOU_CONTAINER_TEST_OPTIONAL=1 (set by .ci/run): when the machine itself cannot do it — the tools cannot be
// installed, buildah cannot mount, the Debian mirror is unreachable — say so and exit 0. Everything about the
// image (the Dockerfile's build, the checks) still fails the run.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';

const CACHE = '/var/tmp/mantou-container';
const BASE = 'localhost/mantou-base:bookworm-node22-headers';
const IMAGE = 'localhost/mantou:container-test';
const PROJECT = new URL('../../', import.meta.url).pathname;
const STORAGE = ['--root', join(CACHE, 'storage'), '--runroot', join(CACHE, 'run'), '--storage-driver', 'vfs'];
const DRAIN_TIMEOUT_MS = 3000;

const started = performance.now();
const step = (what: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${what}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function buildah(args: string[], inherit = false): string {
  return execFileSync('buildah', [...STORAGE, ...args], { encoding: 'utf8', stdio: inherit ? 'inherit' : ['ignore', 'pipe', 'pipe'] }) ?? '';
}

function ensureTools(): void {
  const missing = ['buildah', 'debootstrap'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`needs root to install ${missing.join(', ')}`);
  step(`apt-get install ${missing.join(' ')}`);
  execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function get(port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    if (await check().catch(() => false)) return;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`FAILED: ${what}`);
  step(`ok: ${what}`);
}

/** pid → parent pid, for every process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      out.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  return out;
}

/** The descendants of `root` whose command line's first word ends with `name`. */
function descendantsNamed(root: number, name: string): number[] {
  const ppid = parents();
  const isUnder = (pid: number): boolean => {
    for (let p = ppid.get(pid); p !== undefined && p > 1; p = ppid.get(p)) if (p === root) return true;
    return false;
  };
  return [...ppid.keys()].filter((pid) => {
    if (!isUnder(pid)) return false;
    try {
      return (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '').endsWith(name);
    } catch {
      return false;
    }
  });
}

function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

function config(ports: { edge: number; hello: number; admin: number }, servedBy: string): string {
  return `workers: 1
admin: { address: 127.0.0.1, port: ${ports.admin} }
drain: { timeoutMs: ${DRAIN_TIMEOUT_MS} }
listeners:
  - name: edge
    address: 127.0.0.1
    port: ${ports.edge}
    routes: [{ cluster: hello, responseHeaders: { set: { x-served-by: ${servedBy} } } }]
  - name: hello
    address: 127.0.0.1
    port: ${ports.hello}
    routes: [{ directResponse: { status: 200, body: "hello from the container\\n" } }]
clusters:
  - { name: hello, endpoints: [{ address: 127.0.0.1, port: ${ports.hello} }] }
`;
}

/** The machine cannot run this test (not the image's fault): skip when optional, else fail. */
class EnvironmentProblem extends Error {}

function environmentStep(what: string, run: () => void): void {
  try {
    run();
  } catch (err) {
    throw new EnvironmentProblem(`${what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** buildah must be able to make and mount a container here (root, mount rights). */
function probeBuildah(): void {
  const ctr = buildah(['from', '--quiet', 'scratch']).trim();
  try {
    buildah(['mount', ctr]);
  } finally {
    spawnSync('buildah', [...STORAGE, 'rm', ctr]);
  }
}

async function main(): Promise<void> {
  environmentStep('installing buildah and debootstrap', ensureTools);
  environmentStep('buildah cannot make and mount a container here', probeBuildah);
  step('base image');
  environmentStep('building the local base image (debootstrap from deb.debian.org, Node from the npm registry)', () =>
    execFileSync('bash', [join(PROJECT, 'test/container/build-base.sh'), join(CACHE, 'storage'), join(CACHE, 'run'), BASE], { stdio: 'inherit' }),
  );
  step('buildah bud (the project Dockerfile)');
  // Docker format: the OCI format drops HEALTHCHECK (and buildah warns).
  buildah(['bud', '--quiet', '--format', 'docker', '--isolation', 'chroot', '--build-arg', `BASE=${BASE}`, '-t', IMAGE, PROJECT], true);
  const inspect = JSON.parse(buildah(['inspect', '--type', 'image', IMAGE])) as {
    Docker: { config: { Entrypoint: string[]; Cmd: string[]; User: string; Healthcheck?: { Test: string[] }; StopSignal?: string; ExposedPorts?: object } };
  };
  const image = inspect.Docker.config;
  check(image.User === '10001:10001', `image user is ${image.User}`);
  check(image.Healthcheck?.Test[0] === 'CMD' && image.Healthcheck.Test.includes('healthcheck'), `HEALTHCHECK is ${image.Healthcheck?.Test.join(' ')}`);
  check(image.StopSignal === 'SIGTERM', 'STOPSIGNAL SIGTERM');

  const ctr = buildah(['from', '--quiet', IMAGE]).trim();
  let run: ChildProcess | null = null;
  try {
    const baked = spawnSync('buildah', [...STORAGE, 'run', '--isolation', 'chroot', ctr, '--', 'mantou', 'validate', '-c', '/etc/mantou/mantou.yaml'], {
      encoding: 'utf8',
    });
    check(baked.status === 0, `the baked-in config is valid in the image (${(baked.stdout + baked.stderr).trim()})`);
    const relay = spawnSync(
      'buildah',
      [...STORAGE, 'run', '--isolation', 'chroot', ctr, '--', 'node', '-e', "require('/opt/mantou/native/build/mantou.node')"],
      {
        encoding: 'utf8',
      },
    );
    check(
      relay.status === 0,
      `the native addon (HTTP engine, TCP relay, offload thread scheduling) was built in the image and loads (${(relay.stdout + relay.stderr).trim()})`,
    );
    // The test's own config: free ports (the container shares this host's network), no watching (SIGHUP reloads).
    const mount = buildah(['mount', ctr]).trim();
    const ports = { edge: await freePort(), hello: await freePort(), admin: await freePort() };
    const configPath = join(mount, 'etc/mantou/mantou.yaml');
    writeFileSync(configPath, config(ports, 'first'));
    // The image's own entrypoint and command, as its configured user (buildah run uses the container's user).
    step(`run ${[...image.Entrypoint, ...image.Cmd].join(' ')}`);
    run = spawn('buildah', [...STORAGE, 'run', '--isolation', 'chroot', ctr, '--', ...image.Entrypoint, ...image.Cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    run.stdout?.on('data', (d) => {
      output += d;
    });
    run.stderr?.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((r) => run?.once('exit', (code) => r(code)));
    await waitFor('/ready', async () => (await get(ports.admin, '/ready')).status === 200, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${output}`);
    });
    check(true, '/ready answers 200');

    const tini = descendantsNamed(run.pid as number, 'tini')[0];
    const node = descendantsNamed(run.pid as number, 'node')[0];
    check(tini !== undefined && node !== undefined, `tini (${tini}) runs node (${node})`);
    check(uidOf(tini as number) === 10001 && uidOf(node as number) === 10001, `tini and node run as uid ${uidOf(node as number)}, not root`);
    const root = readlinkSync(`/proc/${node}/root`);
    check(root !== '/', `node runs chrooted in the image (root ${root})`);

    const first = await get(ports.edge, '/');
    check(first.status === 200 && first.body === 'hello from the container\n' && first.headers['x-served-by'] === 'first', 'a request through the proxy');

    const hc = spawnSync('buildah', [...STORAGE, 'run', '--isolation', 'chroot', ctr, '--', ...(image.Healthcheck?.Test.slice(1) ?? [])], { encoding: 'utf8' });
    check(hc.status === 0, `the HEALTHCHECK command exits 0 (${(hc.stdout + hc.stderr).trim()})`);

    writeFileSync(configPath, config(ports, 'reloaded'));
    process.kill(tini as number, 'SIGHUP');
    await waitFor('the reloaded config', async () => (await get(ports.edge, '/')).headers['x-served-by'] === 'reloaded', 10_000);
    check(true, 'config change + SIGHUP to PID 1 (tini) takes effect');

    const stopAt = performance.now();
    process.kill(tini as number, 'SIGTERM');
    const code = await Promise.race([exited, sleep(DRAIN_TIMEOUT_MS + 10_000).then(() => 'timeout' as const)]);
    const ms = Math.round(performance.now() - stopAt);
    check(code === 0 && ms < DRAIN_TIMEOUT_MS + 2000, `SIGTERM: drained and exited ${code} in ${ms} ms (drain timeout ${DRAIN_TIMEOUT_MS} ms)`);
    run = null;
  } finally {
    if (run !== null && run.exitCode === null) {
      // A failed check leaves the container running: kill node and tini by PID (tini killed alone would leave its
      // child running, reparented), then buildah run itself.
      const root = run.pid as number;
      for (const pid of [...descendantsNamed(root, 'node'), ...descendantsNamed(root, 'tini')]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
      run.kill('SIGKILL');
    }
    spawnSync('buildah', [...STORAGE, 'rm', ctr]);
    spawnSync('buildah', [...STORAGE, 'rmi', IMAGE]);
  }
  step('container test passed');
}

main().catch((err: unknown) => {
  if (err instanceof EnvironmentProblem && process.env.MANTOU_CONTAINER_TEST_OPTIONAL === '1') {
    console.log(`container test skipped, this machine cannot run it: ${err.message}`);
    process.exit(0);
  }
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
