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
  private lastDigest = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(file: string, onChange: () => void) {
    this.file = file;
    this.onChange = onChange;
  }

  /**
   * The config the process now runs: `digest` is contentDigest() of the bytes it was read from, so a change made
   * since that read is seen at the next tick. The file is polled only while `enabled` (watchConfig: true): a process
   * that does not watch never wakes for it.
   */
  follow(digest: string, enabled: boolean): void {
    this.lastDigest = digest;
    if (enabled) this.start();
    else this.stop();
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
    this.onChange();
  }

  private start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.check(), WATCH_INTERVAL_MS);
    this.timer.unref();
  }
}

/** A config file's content, as the watcher compares it. */
export function contentDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The file's contentDigest(), or a marker for a file that cannot be read right now (mid-swap, removed). */
function digestOf(file: string): string {
  try {
    return contentDigest(readFileSync(file));
  } catch (err) {
    return `unreadable:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}
