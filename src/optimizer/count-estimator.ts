/**
 * The count cascade's estimator (BlazeIt's aggregate with a control variate, stratified over time):
 * frames known exactly contribute their values; the rest are estimated from random reference
 * labels drawn in time blocks, with the specialized model's predictions as a per-block control
 * variate when it has one.
 */
import { probit } from 'simple-statistics';

export interface CountEstimate {
  /** The estimated per-frame average. */
  readonly value: number;
  /** Half-width of the confidence interval around `value`. */
  readonly halfWidth: number;
  readonly confidence: number;
  readonly sampled: number;
}

/** One time block of the frames whose values are estimated, with its random sample. */
export interface StratumSample {
  /** Frames of the block that were not labelled before sampling (the block's population). */
  readonly size: number;
  /** The model's predictions summed over the block's frames that were not sampled (0 without a model). */
  readonly predictedSumUnsampled: number;
  /** Reference values and model predictions (0 without a model) on the block's random sample. */
  readonly sampleTruth: ArrayLike<number>;
  readonly samplePrediction: ArrayLike<number>;
}

/**
 * The frame average from stratified random sampling over time blocks: each block's total is its
 * sampled values plus, for the rest, the model's predictions corrected by the block's mean
 * residual (a per-block control variate; with no model the plain block mean). Counts change
 * slowly in time, so short blocks vary far less inside than the whole range does, and the interval
 * (from local within-block variances, finite-population corrected) is correspondingly narrower.
 */
export function estimateStratified(input: { frames: number; exactSum: number; exactFrames: number; strata: readonly StratumSample[]; confidence: number; pilotVariance?: number }): StratifiedEstimate {
  let total = input.exactSum;
  // A window whose samples all agree has not shown that its frames do (a person in one frame of ten
  // is missed by six draws half the time): it borrows the pilot's frame-to-frame variance, or the
  // whole sample's when the pilot saw none. Only a block labelled through is known exactly.
  const borrowed = input.pilotVariance || sampleVariance(input.strata);
  let variance = 0;
  const contributions = new Float64Array(input.strata.length);
  let sampled = 0;
  for (const [h, s] of input.strata.entries()) {
    const m = s.sampleTruth.length;
    sampled += m;
    let truthSum = 0;
    let residualSum = 0;
    for (let i = 0; i < m; i++) {
      truthSum += s.sampleTruth[i]!;
      residualSum += s.sampleTruth[i]! - s.samplePrediction[i]!;
    }
    if (m >= s.size) {
      total += truthSum;
      continue;
    }
    if (m < 2) return { value: Number.NaN, halfWidth: Number.POSITIVE_INFINITY, confidence: input.confidence, sampled, contributions };
    const mean = residualSum / m;
    total += truthSum + s.predictedSumUnsampled + (s.size - m) * mean;
    contributions[h] = (s.size * s.size * (1 - m / s.size) * (localVariance(input.strata, h) || borrowed)) / m;
    variance += contributions[h]!;
  }
  const z = probit(1 - (1 - input.confidence) / 2);
  return { value: total / input.frames, halfWidth: (z * Math.sqrt(variance)) / input.frames, confidence: input.confidence, sampled, contributions };
}

/**
 * A block's residual variance, from its own and its two neighbours' samples together. Two samples
 * per block often agree by chance (no object in either, or the same count on both sides of a
 * change the block contains), which would make the block look certain and the interval too narrow
 * on sparse or step-like counts; the neighbours keep it honest, at the price of counting slow
 * trends as variance (a wider, conservative interval).
 */
function localVariance(strata: readonly StratumSample[], h: number): number {
  return sampleVariance(strata.slice(Math.max(0, h - 1), h + 2));
}

function sampleVariance(strata: readonly StratumSample[]): number {
  let n = 0;
  let sum = 0;
  for (const s of strata) for (let i = 0; i < s.sampleTruth.length; i++, n++) sum += s.sampleTruth[i]! - s.samplePrediction[i]!;
  if (n < 2) return 0;
  const mean = sum / n;
  let ss = 0;
  for (const s of strata) for (let i = 0; i < s.sampleTruth.length; i++) ss += (s.sampleTruth[i]! - s.samplePrediction[i]! - mean) ** 2;
  return ss / (n - 1);
}

export interface StratifiedEstimate extends CountEstimate {
  /** Each block's share of the estimate's variance. */
  readonly contributions: Float64Array;
}

/** A block of a sorted population: indices [lo, hi). */
export interface Block {
  readonly lo: number;
  readonly hi: number;
}

/** Splits every block into `parts` near-equal consecutive blocks (blocks too small to split stay whole). */
export function splitBlocks(blocks: readonly Block[], parts: number): Block[] {
  const out: Block[] = [];
  for (const b of blocks) {
    const n = b.hi - b.lo;
    const k = Math.max(1, Math.min(parts, Math.floor(n / 3)));
    for (let j = 0; j < k; j++) out.push({ lo: b.lo + Math.floor((j * n) / k), hi: b.lo + Math.floor(((j + 1) * n) / k) });
  }
  return out;
}

/**
 * Draws, uniformly without replacement inside each block, the frames that bring every block to
 * `perBlock` sampled frames (all of a block smaller than that). `population` is sorted; `sampled`
 * holds what earlier rounds drew. Returns the new frames.
 */
export function topUpBlocks(population: readonly number[], blocks: readonly Block[], sampled: ReadonlySet<number>, perBlock: number, next: () => number): number[] {
  const added: number[] = [];
  for (const b of blocks) {
    const free: number[] = [];
    let have = 0;
    for (let i = b.lo; i < b.hi; i++) (sampled.has(population[i]!) ? have++ : free.push(population[i]!));
    for (let want = Math.min(perBlock, b.hi - b.lo) - have; want > 0 && free.length > 0; want--) {
      const j = Math.floor(next() * free.length);
      added.push(free[j]!);
      free[j] = free[free.length - 1]!;
      free.pop();
    }
  }
  return added;
}

/**
 * The next, finer set of blocks for a half-width of `target`: the variance falls roughly as
 * 1 / blocks (or faster), so about blocks x (halfWidth / target)^2 are wanted, at most twice as many as now. Which blocks are halved does
 * not depend on their observed variance (choosing the noisy-looking ones would leave the
 * calm-looking ones' variance underestimated, and the interval too narrow): they are spread
 * evenly over the range. Returns the same blocks when none can be split.
 */
export function refineBlocks(blocks: readonly Block[], estimate: StratifiedEstimate, target: number): Block[] {
  const ratio = Number.isFinite(estimate.halfWidth) ? (estimate.halfWidth / target) ** 2 * 1.1 : 2;
  // At most doubling per round: once blocks are shorter than the objects' stays, the variance
  // falls much faster than 1 / blocks, and a bigger jump would label far more than needed.
  const wanted = Math.min(2 * blocks.length, Math.max(blocks.length + 1, Math.ceil(blocks.length * ratio)));
  if (wanted >= 2 * blocks.length) return splitBlocks(blocks, 2);
  const extra = wanted - blocks.length;
  const split = new Set(Array.from({ length: extra }, (_, j) => Math.floor(((j + 0.5) * blocks.length) / extra)));
  return blocks.flatMap((b, h) => (split.has(h) ? splitBlocks([b], 2) : [b]));
}

export interface StratifiedSampling {
  /** Frames whose values are estimated (sorted): the range minus the frames known exactly. */
  readonly population: readonly number[];
  /** Frames in range, and the sum and number of those known exactly. */
  readonly frames: number;
  readonly exactSum: number;
  readonly exactFrames: number;
  /** Target half-width (per frame) and confidence level. */
  readonly within: number;
  readonly confidence: number;
  /** Variance between neighbouring frames seen in a pilot sample: sizes the first set of blocks. */
  readonly pilotVariance: number;
  readonly random: () => number;
  /** The model's prediction for a frame (0 without a model). */
  readonly predicted: (frame: number) => number;
  /** Makes `value` known for these frames (the reference detector, or the label store). */
  readonly label: (frames: readonly number[]) => Promise<void> | void;
  readonly value: (frame: number) => number;
}

/**
 * The count cascade's sampling procedure: blocks sized from the pilot, two random frames each,
 * then blocks halved and topped up until the interval is as narrow as asked; when no block can be
 * split any more, the rest is labelled and the answer is exact. Deterministic for a given
 * `random`, so a warm run draws the frames it drew before.
 */
export async function sampleStratified(o: StratifiedSampling): Promise<{ estimate: CountEstimate; drawn: Set<number>; blocks: Block[] }> {
  const z = probit(1 - (1 - o.confidence) / 2);
  const wanted = ((z * o.population.length * Math.sqrt(o.pilotVariance)) / (o.frames * o.within)) ** 2 / 2;
  let blocks: Block[] = splitBlocks([{ lo: 0, hi: o.population.length }], Math.max(4, Math.ceil(wanted / 2)));
  const drawn = new Set<number>();
  for (;;) {
    const next = topUpBlocks(o.population, blocks, drawn, 2, o.random);
    await o.label(next);
    for (const f of next) drawn.add(f);
    const strata: StratumSample[] = blocks.map((b) => {
      const sampleTruth: number[] = [];
      const samplePrediction: number[] = [];
      let predictedSumUnsampled = 0;
      for (let i = b.lo; i < b.hi; i++) {
        const f = o.population[i]!;
        if (drawn.has(f)) {
          sampleTruth.push(o.value(f));
          samplePrediction.push(o.predicted(f));
        } else predictedSumUnsampled += o.predicted(f);
      }
      return { size: b.hi - b.lo, predictedSumUnsampled, sampleTruth, samplePrediction };
    });
    const estimate = estimateStratified({ frames: o.frames, exactSum: o.exactSum, exactFrames: o.exactFrames, strata, confidence: o.confidence, pilotVariance: o.pilotVariance });
    if (estimate.halfWidth <= o.within) return { estimate, drawn, blocks };
    const finer = refineBlocks(blocks, estimate, o.within);
    if (finer.length === blocks.length) {
      const rest = o.population.filter((f) => !drawn.has(f));
      await o.label(rest);
      for (const f of rest) drawn.add(f);
      const value = (o.exactSum + o.population.reduce((a, f) => a + o.value(f), 0)) / o.frames;
      return { estimate: { value, halfWidth: 0, confidence: o.confidence, sampled: drawn.size }, drawn, blocks };
    }
    blocks = finer;
  }
}

/** Half the mean squared difference of consecutive values: their variance within short time spans (a pilot for the first blocks). */
export function neighbourVariance(values: ArrayLike<number>): number {
  let ss = 0;
  for (let i = 1; i < values.length; i++) ss += (values[i]! - values[i - 1]!) ** 2;
  return ss / Math.max(1, 2 * (values.length - 1));
}
