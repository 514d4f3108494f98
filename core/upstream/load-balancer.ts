// Smooth weighted round robin (the scheme nginx uses): each pick adds every endpoint's weight to its running
// score and takes the highest, so weights 5:1:1 give a a b a c a a rather than a burst of five a's.

export class WeightedRoundRobin {
  private readonly weights: readonly number[];
  private readonly scores: number[];
  private readonly totalWeight: number;
  private readonly uniform: boolean;
  private next = 0;

  constructor(weights: readonly number[]) {
    this.weights = weights;
    this.scores = weights.map(() => 0);
    this.totalWeight = weights.reduce((a, b) => a + b, 0);
    this.uniform = weights.every((w) => w === weights[0]);
  }

  /** Index of the endpoint for the next request. */
  pick(): number {
    const n = this.weights.length;
    if (this.uniform) {
      const i = this.next;
      this.next = i + 1 === n ? 0 : i + 1;
      return i;
    }
    let best = 0;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const s = (this.scores[i] as number) + (this.weights[i] as number);
      this.scores[i] = s;
      if (s > bestScore) {
        bestScore = s;
        best = i;
      }
    }
    this.scores[best] = bestScore - this.totalWeight;
    return best;
  }
}
