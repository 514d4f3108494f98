// A worker's lifecycle as streams see it: how many are in flight (per worker and per generation), whether the
// worker is draining (responses then carry Connection: close), and who to tell when a count reaches zero.

export interface GenerationState {
  readonly id: number;
  inflight: number;
  /** Set when a newer generation replaced this one: at zero in-flight it can release what it alone used. */
  retired: boolean;
}

export class WorkerLifecycle {
  draining = false;
  inflight = 0;
  /** Called when a retired generation has no stream left. */
  onGenerationIdle: ((g: GenerationState) => void) | null = null;
  /** Called when draining and no stream is left in the worker. */
  onIdle: (() => void) | null = null;

  /** `n` streams started (the native engine counts those served on kept decisions in one go). */
  streamStarted(g: GenerationState, n = 1): void {
    g.inflight += n;
    this.inflight += n;
  }

  /** `n` streams finished (the native engine counts those that ended well in one go). */
  streamFinished(g: GenerationState, n = 1): void {
    g.inflight -= n;
    this.inflight -= n;
    if (g.retired && g.inflight === 0) this.onGenerationIdle?.(g);
    if (this.draining && this.inflight === 0) this.onIdle?.();
  }
}
