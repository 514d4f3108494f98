// The shape of a bench run in time: how long each planned piece lasts, how many rounds a cell gets, and a model
// of how long a scenario's planned work takes (what bench/run-budget.ts spends the rest of the time bound from).

import type { Scenario } from './scenarios.ts';

export const LATENCY_MS = 1500;
/** Whole seconds: wrk accepts no fractions. */
export const THROUGHPUT_S = 1;
export const WARMUP_MS = 1500;

/** The bounds (15 minutes, 3 with --quick) less what follows the measuring: the floor probe, the report, the stops. */
export const DEFAULT_RUN_LIMIT_MS = 870_000;
export const QUICK_RUN_LIMIT_MS = 170_000;

/** What a run was asked for, as far as its timing goes. */
export interface RunShape {
  quick: boolean;
  /** Rounds per cell (`--rounds`; 3, 2 with --quick). */
  rounds: number;
  latencyFirst: boolean;
}

/**
 * After the throughput rounds, open-loop traffic this long at the first rate to the first candidate, not measured,
 * before the latency rounds. Without it the first latency round of the first few candidates was the worst of their
 * rounds, decaying with their place in the order: in the 16 full runs of 2026-12-01 and -02, the small-GET p99 at
 * 1,000 req/s of round 1 against the median of the others was 1.1–20× for direct (first), 0.6–10.5× for Mantou's
 * one-core candidate (second), 0.8–4.1× for the chain (third), and 0.7–1.6× for nginx (fifth, about 7 s after the
 * throughput rounds): a bias against whoever comes early, Mantou's candidates every time. What decays was not found
 * (it follows wrk's saturating rounds, whoever they loaded). With it, direct's round 1 was 1.2× and 1.8× its others
 * (17:08, 17:17), but the proxies' first rounds still ran 0.5–2.4×: Mantou's one-core candidate 1.9× and 2.3×,
 * nginx 1.7× and 1.3× — settling helps the generator's side, not all of the proxies'; so in small GETs, where the
 * targets are read, each candidate also gets an unmeasured round of its own first (bench/README.md).
 */
export function settleMs(shape: RunShape): number {
  return shape.quick ? 1000 : 6000;
}

/** Latency rounds per cell in `s`: the run's rounds, or the scenario's own larger number (not with --quick). */
export function latencyRoundsOf(s: Scenario, shape: RunShape): number {
  return shape.quick ? shape.rounds : Math.max(shape.rounds, s.latencyRounds ?? 0);
}

/** Throughput rounds per candidate in `s`: the run's rounds, or the scenario's own larger number (not with --quick). */
export function throughputRoundsOf(s: Scenario, shape: RunShape): number {
  return shape.quick ? shape.rounds : Math.max(shape.rounds, s.throughputRounds ?? 0);
}

/** Whether each candidate gets an unmeasured latency round of its own before the measured ones (see settleMs). */
export function settlesEachCandidate(s: Scenario, shape: RunShape): boolean {
  return !shape.latencyFirst && latencyRoundsOf(s, shape) > shape.rounds;
}

/**
 * How long scenario `s` takes for `candidates` candidates (direct counted), by the pieces' nominal lengths: every
 * cell measured (a candidate saturated at a rate skips it), no round measured again, no overhead between pieces.
 */
export function modelledScenarioMs(s: Scenario, candidates: number, shape: RunShape): number {
  const warmUps = candidates * WARMUP_MS;
  const throughput = candidates * throughputRoundsOf(s, shape) * THROUGHPUT_S * 1000;
  const settling = (shape.latencyFirst ? 0 : settleMs(shape)) + (settlesEachCandidate(s, shape) ? candidates * LATENCY_MS : 0);
  const latency = s.rates.length * latencyRoundsOf(s, shape) * candidates * LATENCY_MS;
  return warmUps + throughput + settling + latency;
}
