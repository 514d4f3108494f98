import { describe, expect, it } from 'vitest';
import { candidateSpecs } from '../../../bench/candidates.ts';
import { RunBudget, runLimitMs } from '../../../bench/run-budget.ts';
import { DEFAULT_RUN_LIMIT_MS, LATENCY_MS, modelledScenarioMs, QUICK_RUN_LIMIT_MS, type RunShape, THROUGHPUT_S, WARMUP_MS } from '../../../bench/run-plan.ts';
import { type Scenario, scenarios } from '../../../bench/scenarios.ts';

// The bench's time bound: re-measures spend only the slack the planned work leaves, at the pace the planned work
// actually goes; and the default run's plan leaves some.

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RunBudget', () => {
  it('allows nothing before the plan is known', () => {
    const clock = manualClock();
    const budget = new RunBudget(clock.now);
    expect(budget.allows(1)).toBe(false);
    expect(budget.refusals()).toBe(1);
  });

  it('allows a re-measure while the projected end, with it, stays within the limit', () => {
    const clock = manualClock();
    const budget = new RunBudget(clock.now);
    clock.advance(5_000); // start-up
    budget.startPlan(80_000, 100_000);
    // Planned work at exactly its model: 10 s done, 70 s left, 15 s run: projected 85 s.
    clock.advance(10_000);
    budget.planned(10_000);
    expect(budget.pace()).toBe(1);
    expect(budget.projectedMs()).toBe(85_000);
    expect(budget.allows(15_000)).toBe(true);
    expect(budget.allows(15_001)).toBe(false);
    expect(budget.refusals()).toBe(1);
  });

  it('scales the planned work left by how much slower than its model the done part went', () => {
    const clock = manualClock();
    const budget = new RunBudget(clock.now);
    budget.startPlan(60_000, 100_000);
    // 20 s of model took 30 s: pace 1.5, so the 40 s left will take 60 s; projected 90 s.
    clock.advance(30_000);
    budget.planned(20_000);
    expect(budget.pace()).toBe(1.5);
    expect(budget.projectedMs()).toBe(90_000);
    expect(budget.allows(10_000)).toBe(true);
    expect(budget.allows(10_001)).toBe(false);
  });

  it('leaves re-measures out of the pace and never counts the plan faster than its model', () => {
    const clock = manualClock();
    const budget = new RunBudget(clock.now);
    budget.startPlan(60_000, 100_000);
    // 10 s of model took 10 s, and a re-measure 5 s more: the pace is still 1, not 1.5.
    clock.advance(15_000);
    budget.planned(10_000);
    budget.extra(5_000);
    expect(budget.pace()).toBe(1);
    expect(budget.projectedMs()).toBe(65_000);
    // Planned work quicker than its model (a piece ran short) still projects at the model.
    clock.advance(5_000);
    budget.planned(10_000);
    expect(budget.pace()).toBe(1);
  });

  it('takes work that will not run out of what is left', () => {
    const clock = manualClock();
    const budget = new RunBudget(clock.now);
    budget.startPlan(60_000, 70_000);
    clock.advance(10_000);
    budget.planned(10_000);
    expect(budget.allows(15_000)).toBe(false);
    budget.dropped(20_000); // a saturated cell: its rounds are skipped
    expect(budget.projectedMs()).toBe(40_000);
    expect(budget.allows(15_000)).toBe(true);
  });

  it('keeps the default bound for the default run, and gives a longer plan a tenth of itself', () => {
    expect(runLimitMs(870_000, 900_000, true)).toBe(870_000);
    expect(runLimitMs(870_000, 900_000, false)).toBeCloseTo(990_000);
    expect(runLimitMs(870_000, 200_000, false)).toBe(870_000);
  });
});

describe('the default run plan', () => {
  /** Every candidate a default run starts when every peer is installed, per scenario. */
  function candidatesIn(s: Scenario): number {
    return candidateSpecs.filter((c) => c.optIn !== true && (c.scenarios === undefined || c.scenarios.includes(s.name))).length;
  }

  it('leaves the default run at least a minute of slack for start-up and re-measures', () => {
    const shape: RunShape = { quick: false, rounds: 3, latencyFirst: false };
    const planMs = scenarios.filter((s) => s.optIn !== true).reduce((a, s) => a + modelledScenarioMs(s, candidatesIn(s), shape), 0);
    expect(planMs).toBeLessThanOrEqual(DEFAULT_RUN_LIMIT_MS - 60_000);
  });

  it('leaves --quick at least 20 s of slack', () => {
    const shape: RunShape = { quick: true, rounds: 2, latencyFirst: false };
    const quick = scenarios.filter((s) => s.name === 'small-get' || s.name === 'get-64k');
    const planMs = quick.reduce((a, s) => a + modelledScenarioMs(s, candidatesIn(s), shape), 0);
    expect(planMs).toBeLessThanOrEqual(QUICK_RUN_LIMIT_MS - 20_000);
  });

  it('models a scenario as its pieces: warm-ups, throughput rounds, settling, latency rounds', () => {
    const s = scenarios.find((x) => x.name === 'small-get') as Scenario;
    const shape: RunShape = { quick: false, rounds: 3, latencyFirst: false };
    // 7 latency rounds at 2 rates and 5 throughput rounds for 2 candidates; 6 s of settling and one unmeasured
    // round each.
    expect(modelledScenarioMs(s, 2, shape)).toBe(2 * WARMUP_MS + 2 * 5 * THROUGHPUT_S * 1000 + 6000 + 2 * LATENCY_MS + 2 * 7 * 2 * LATENCY_MS);
  });
});
