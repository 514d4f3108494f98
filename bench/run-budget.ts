// The bench's time bound (issue 4: the default run under 15 minutes, `--quick` under 3), kept by construction.
// The planned work — warm-ups, throughput rounds, settling, latency rounds — is fixed by the run's choices; what
// varies is how many rounds are measured again (a disturbed round, or one the generator's own major GC fell in).
// In a noisy hour those re-measures alone once took a run from 830 s to 999 s, and a per-run cap on their number
// still left a quiet run (879 s, 2026-12-02 18:06) 21 s under the bound. So a re-measure now spends only the slack:
// it is allowed while the time run so far, plus the planned work left (modelled, and scaled by how long the
// planned work done so far actually took against its model), plus the re-measure itself, fits in the bound.

/** What the bench asks of its budget; `planned` and `extra` take milliseconds. */
export class RunBudget {
  readonly #now: () => number;
  readonly #startedAt: number;
  #limitMs = Number.NaN;
  #planStartedAt = Number.NaN;
  #plannedLeftMs = 0;
  #plannedDoneMs = 0;
  #extraMs = 0;
  #refused = 0;

  /** The run starts now, by `now`, a clock in milliseconds (tests pass their own). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
    this.#startedAt = now();
  }

  /**
   * The planned work is about to start: `modelledMs` of it in all, by the model, and the whole run (counted from
   * its start: the candidates' start-up included) is to end within `limitMs`. Until then nothing is allowed.
   */
  startPlan(modelledMs: number, limitMs: number): void {
    this.#planStartedAt = this.#now();
    this.#plannedLeftMs = modelledMs;
    this.#limitMs = limitMs;
  }

  /** A piece of the planned work, `modelledMs` by the model, is done. */
  planned(modelledMs: number): void {
    this.#plannedDoneMs += modelledMs;
    this.#plannedLeftMs = Math.max(0, this.#plannedLeftMs - modelledMs);
  }

  /** A piece of the planned work, `modelledMs` by the model, will not run (a cell above a candidate's maximum). */
  dropped(modelledMs: number): void {
    this.#plannedLeftMs = Math.max(0, this.#plannedLeftMs - modelledMs);
  }

  /** Unplanned work (a re-measure) took `actualMs`. */
  extra(actualMs: number): void {
    this.#extraMs += actualMs;
  }

  /**
   * How much longer than its model the planned work has run so far (at least 1: the model leaves out per-round
   * overheads, never adds any). Before any of it is done, a guess of 1.1.
   */
  pace(): number {
    if (this.#plannedDoneMs === 0 || Number.isNaN(this.#planStartedAt)) return 1.1;
    const plannedActualMs = this.#now() - this.#planStartedAt - this.#extraMs;
    return Math.max(1, plannedActualMs / this.#plannedDoneMs);
  }

  /** The run's expected end, in ms from its start, if nothing more is measured again. */
  projectedMs(): number {
    return this.#now() - this.#startedAt + this.#plannedLeftMs * this.pace();
  }

  /** Whether unplanned work of `ms` still fits in the bound; a refusal is counted (refusals()). */
  allows(ms: number): boolean {
    if (this.projectedMs() + ms <= this.#limitMs) return true;
    this.#refused++;
    return false;
  }

  /** How many re-measures the bound refused: the report lists the rounds kept disturbed. */
  refusals(): number {
    return this.#refused;
  }
}

/**
 * The bound a run keeps: the for the default run (`defaultLimitMs`), whatever its plan. A run given more
 * work (`--rounds`, `--candidates`, `--scenarios`) has no bound of the issue's; its re-measures get a tenth of its
 * plan, or the default bound's slack if that is more.
 */
export function runLimitMs(defaultLimitMs: number, modelledPlanMs: number, defaultRun: boolean): number {
  return defaultRun ? defaultLimitMs : Math.max(defaultLimitMs, modelledPlanMs * 1.1);
}
