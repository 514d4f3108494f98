// Vitest global setup: every temporary directory the tests make (configs, filter modules, JWKS files, the proxy's
// own spill files) goes under one root for the run, removed when the run ends. Without it each `npm test` left
// about a hundred directories in /tmp. The workers and the proxies they start inherit TMPDIR, which os.tmpdir()
// reads at each call.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'mantou-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
