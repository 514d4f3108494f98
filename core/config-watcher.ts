// `watchConfig: true`: the supervisor reloads by itself when the config file's content changes — the same path
// as SIGHUP (validated first; a bad file is refused and the running config stays). Kubernetes updates a mounted
// ConfigMap by swapping a symlink (`..data`) rather than writing the file, which inotify on the file itself misses;
// polling the content (a small file, once a second) sees every kind of change, renames and symlink swaps included.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const WATCH_INTERVAL_MS = 1000;

export class ConfigWatcher {
  private readonly file: string;
  private readonly onChange: () => void;
  private readonly isEnabled: () => boolean;
  private lastDigest: string;
  private timer: NodeJS.Timeout | null = null;

  /** `isEnabled` is asked on every tick, so a reload can turn watching on or off. */
  constructor(file: string, isEnabled: () => boolean, onChange: () => void) {
    this.file = file;
    this.isEnabled = isEnabled;
    this.onChange = onChange;
    this.lastDigest = digestOf(file);
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Compares the file with what was seen last; a change (or a file that appears or vanishes) triggers one reload. */
  check(): void {
    const digest = digestOf(this.file);
    if (digest === this.lastDigest) return;
    this.lastDigest = digest;
    if (this.isEnabled()) this.onChange();
  }
}

/** The content's hash, or a marker for a file that cannot be read right now (mid-swap, removed). */
function digestOf(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
