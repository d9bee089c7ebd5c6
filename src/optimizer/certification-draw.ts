/**
 * The certification procedure itself, apart from where its labels come from: the frames the
 * reference never saw are split into answered positive (U+) and answered negative (U-), each
 * ordered by a seeded hash of the frame; the first frames of each order are labelled look after
 * look (each look doubles the stratum whose bound is short) until the bounds meet the targets,
 * a stratum is labelled through, or the budget ends. The Certify operator runs it with the
 * reference detector; `bench:coverage` replays it many times on fully labelled truth.
 */
import { firstLookSizes, lookAlpha, presenceBounds, verificationKey, type CertificationTargets, type PresenceBounds } from './certification.js';

/** The answer as the cheap stages (and the reference's uncertain frames) left it. */
export interface DecidedAnswer {
  readonly frames: Int32Array;
  /** 1 answered positive, 0 answered negative (every frame is decided by now). */
  readonly decision: Int8Array;
  /** 1 where the reference's label is known (sample, uncertain frames, the store). */
  readonly verified: Uint8Array;
}

export interface DrawOptions {
  readonly targets: CertificationTargets;
  readonly seed: number;
  /** Reference calls still allowed (undefined: no budget), and frames whose label is free. */
  readonly budget?: { readonly left: () => number; readonly free: (frame: number) => boolean };
  /** The reference's values (1 / 0) of the frames at these indexes of the answer. */
  readonly label: (indexes: readonly number[]) => Promise<ArrayLike<number>>;
}

export interface DrawOutcome {
  readonly bounds: PresenceBounds;
  /** Indexes labelled, with the reference's value of each. */
  readonly labelled: ReadonlyMap<number, number>;
  readonly sampled: number;
  readonly unverified: number;
  readonly looks: number;
  readonly budgetReached: boolean;
  /** Errors the sample found in U+ / U-. */
  readonly errors: { readonly positive: number; readonly negative: number };
}

interface Drawing {
  readonly pool: number[];
  sampled: number;
  errors: number;
}
type Sizes = { readonly positive: number; readonly negative: number };

/** Draws, labels and bounds until the targets are certified, the strata run out or the budget ends. */
export async function drawCertification(answer: DecidedAnswer, o: DrawOptions): Promise<DrawOutcome> {
  const { frames, decision } = answer;
  const pos: number[] = [];
  const neg: number[] = [];
  const verified = { positives: 0, negatives: 0 };
  for (let i = 0; i < frames.length; i++) {
    if (answer.verified[i]) verified[decision[i] === 1 ? 'positives' : 'negatives']++;
    else (decision[i] === 1 ? pos : neg).push(i);
  }
  const keyOf = new Map<number, number>();
  for (const i of [...pos, ...neg]) keyOf.set(i, verificationKey(o.seed, frames[i]!));
  const order = (idx: number[]) => idx.sort((a, b) => keyOf.get(a)! - keyOf.get(b)!);
  const strata = { positive: { pool: order(pos), sampled: 0, errors: 0 }, negative: { pool: order(neg), sampled: 0, errors: 0 } };
  const labelled = new Map<number, number>();
  const delta = 1 - o.targets.confidence;
  let want: Sizes = firstLookSizes(pos.length, neg.length, verified, o.targets);
  let look = 0;
  let budgetReached = false;
  for (;;) {
    const take = o.budget ? withinBudget(o.budget, frames, strata, want) : want;
    budgetReached ||= take.positive < want.positive || take.negative < want.negative;
    const fresh = [...strata.positive.pool.slice(strata.positive.sampled, take.positive), ...strata.negative.pool.slice(strata.negative.sampled, take.negative)];
    const values = await o.label(fresh);
    fresh.forEach((i, k) => {
      const truth = values[k]! > 0 ? 1 : 0;
      if (truth !== decision[i]) (decision[i] === 1 ? strata.positive : strata.negative).errors++;
      verified[truth === 1 ? 'positives' : 'negatives']++;
      labelled.set(i, truth);
    });
    strata.positive.sampled = Math.max(strata.positive.sampled, take.positive);
    strata.negative.sampled = Math.max(strata.negative.sampled, take.negative);
    const bounds = presenceBounds(stratumOf(strata.positive), stratumOf(strata.negative), verified, lookAlpha(delta, look));
    const t = o.targets;
    const fnrShort = bounds.fnr > t.fnr && strata.negative.sampled < neg.length;
    const fpShort = (bounds.fpr > t.fpr || (t.precision !== undefined && bounds.precision < t.precision)) && strata.positive.sampled < pos.length;
    if (budgetReached || (!fnrShort && !fpShort)) {
      const errors = { positive: strata.positive.errors, negative: strata.negative.errors };
      return { bounds, labelled, sampled: strata.positive.sampled + strata.negative.sampled, unverified: pos.length + neg.length, looks: look + 1, budgetReached, errors };
    }
    look++;
    want = {
      positive: fpShort ? Math.min(pos.length, 2 * Math.max(1, strata.positive.sampled)) : strata.positive.sampled,
      negative: fnrShort ? Math.min(neg.length, 2 * Math.max(1, strata.negative.sampled)) : strata.negative.sampled,
    };
  }
}

const stratumOf = (d: Drawing) => ({ size: d.pool.length, sampled: d.sampled, errors: d.errors });

/** The sizes to reach this look, cut so the budget of reference calls is not exceeded (free frames cost nothing). */
function withinBudget(budget: NonNullable<DrawOptions['budget']>, frames: Int32Array, strata: { positive: Drawing; negative: Drawing }, want: Sizes): Sizes {
  let left = budget.left();
  const grow = (d: Drawing, to: number) => {
    let n = d.sampled;
    while (n < to && (left > 0 || budget.free(frames[d.pool[n]!]!))) {
      if (!budget.free(frames[d.pool[n]!]!)) left--;
      n++;
    }
    return n;
  };
  // The negatives first: misses are what a budget most often cuts.
  const negative = grow(strata.negative, want.negative);
  return { negative, positive: grow(strata.positive, want.positive) };
}

/** An answer's true FNR and FPR against the reference's value of every frame (accuracy checks and replays). */
export function answerRates(decision: ArrayLike<number>, frames: ArrayLike<number>, positive: (frame: number) => boolean): { fnr: number; fpr: number } {
  let pos = 0;
  let neg = 0;
  let fn = 0;
  let fp = 0;
  for (let i = 0; i < frames.length; i++) {
    if (positive(frames[i]!)) {
      pos++;
      if (decision[i] !== 1) fn++;
    } else {
      neg++;
      if (decision[i] === 1) fp++;
    }
  }
  return { fnr: pos ? fn / pos : 0, fpr: neg ? fp / neg : 0 };
}
