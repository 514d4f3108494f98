// A listener's deadline sweep and coarse clock: one repeating timer checks every connection's or session's deadlines
// (instead of a timer per connection re-armed on each read), and the clock it reads is what connections arm their
// deadlines from (no clock read per event). While the owner has only idle connections it dozes: one timer for the
// earliest deadline instead of the repeating one, and the first caller of now() reads the clock afresh and resumes
// the sweeps. Unref'd: it never keeps a thread alive on its own.

export class Sweeper<T> {
  /** Date.now() as of the last sweep or wake-up. Stale while dozing: read it through now(). */
  private nowMs = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private dozing = false;
  private readonly intervalMs: number;
  private readonly target: T;
  private readonly sweep: (target: T) => void;

  constructor(intervalMs: number, target: T, sweep: (target: T) => void) {
    this.intervalMs = intervalMs;
    this.target = target;
    this.sweep = sweep;
  }

  /** Something to sweep appeared, or activity came while dozing: reads the clock, and sweeps from now on. */
  start(): void {
    this.nowMs = Date.now();
    if (this.timer !== null && !this.dozing) return;
    this.clear();
    this.timer = setInterval(this.sweep, this.intervalMs, this.target);
    this.timer.unref();
  }

  /** The coarse clock; while dozing, reading it wakes the sweeps. */
  now(): number {
    if (this.dozing) this.start();
    return this.nowMs;
  }

  /** For the sweep itself: reads the clock. */
  readClock(): number {
    this.nowMs = Date.now();
    return this.nowMs;
  }

  /** Nothing needs a look before `untilMs` (the clock's ms) unless there is activity: one timer instead of sweeps. */
  doze(untilMs: number): void {
    this.clear();
    this.dozing = true;
    this.timer = setTimeout(wakeAndSweep, Math.max(untilMs - this.nowMs, this.intervalMs), this);
    this.timer.unref();
  }

  /** Nothing left to sweep. */
  stop(): void {
    this.clear();
  }

  /** The dozing timer is due: sweeps again (which may doze once more). */
  wake(): void {
    this.start();
    this.sweep(this.target);
  }

  private clear(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dozing = false;
  }
}

function wakeAndSweep<T>(sweeper: Sweeper<T>): void {
  sweeper.wake();
}
