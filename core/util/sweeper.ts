// A repeating timer that runs only while there is something to sweep: one per listener checks every connection's
// or session's deadlines (instead of a timer per connection re-armed on each read). Unref'd: it never keeps a
// thread alive on its own.

export class Sweeper<T> {
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly target: T;
  private readonly sweep: (target: T) => void;

  constructor(intervalMs: number, target: T, sweep: (target: T) => void) {
    this.intervalMs = intervalMs;
    this.target = target;
    this.sweep = sweep;
  }

  /** Something to sweep appeared: run from now on (no-op when running). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(this.sweep, this.intervalMs, this.target);
    this.timer.unref();
  }

  /** Nothing left to sweep. */
  stop(): void {
    if (this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
