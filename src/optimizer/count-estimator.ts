import { probit } from 'simple-statistics';

/**
 * BlazeIt's aggregate estimate with a control variate: the specialized model predicts a value
 * for every frame; a uniform random sample of frames gets the reference's value; the total over
 * the unlabelled frames is estimated as (sum of predictions) + M x (mean residual on the sample),
 * which is unbiased whatever the model's quality. Frames labelled by the reference for other
 * reasons contribute their exact values.
 */
export interface CountEstimateInput {
  /** Frames in the query's range. */
  readonly frames: number;
  /** Sum of reference values over frames whose label is known and not part of the random sample. */
  readonly exactSum: number;
  readonly exactFrames: number;
  /** Sum of the model's predictions over every frame neither exact nor sampled. */
  readonly predictedSumUnsampled: number;
  /** Reference values and model predictions on the random sample (same order). */
  readonly sampleTruth: ArrayLike<number>;
  readonly samplePrediction: ArrayLike<number>;
  /** Confidence level, e.g. 0.95. */
  readonly confidence: number;
}

export interface CountEstimate {
  /** The estimated per-frame average. */
  readonly value: number;
  /** Half-width of the confidence interval around `value`. */
  readonly halfWidth: number;
  readonly confidence: number;
  readonly sampled: number;
}

export function estimateFrameAverage(input: CountEstimateInput): CountEstimate {
  const m = input.sampleTruth.length;
  const population = input.frames - input.exactFrames; // frames estimated (sample + unsampled)
  let residualSum = 0;
  let truthSum = 0;
  for (let i = 0; i < m; i++) {
    residualSum += input.sampleTruth[i]! - input.samplePrediction[i]!;
    truthSum += input.sampleTruth[i]!;
  }
  if (population <= 0 || m === population) {
    const value = (input.exactSum + truthSum) / input.frames;
    return { value, halfWidth: 0, confidence: input.confidence, sampled: m };
  }
  if (m < 2) return { value: Number.NaN, halfWidth: Number.POSITIVE_INFINITY, confidence: input.confidence, sampled: m };
  const meanResidual = residualSum / m;
  let ss = 0;
  for (let i = 0; i < m; i++) {
    const r = input.sampleTruth[i]! - input.samplePrediction[i]! - meanResidual;
    ss += r * r;
  }
  const variance = ss / (m - 1);
  // Unsampled frames: predictions + mean residual; sampled frames: their truth.
  const unsampled = population - m;
  const total = input.exactSum + truthSum + input.predictedSumUnsampled + unsampled * meanResidual;
  const fpc = 1 - m / population;
  const standardError = (unsampled * Math.sqrt((variance / m) * fpc)) / input.frames;
  const z = probit(1 - (1 - input.confidence) / 2);
  return { value: total / input.frames, halfWidth: z * standardError, confidence: input.confidence, sampled: m };
}

/**
 * How many more random frames the estimate needs for a half-width of `target`, from the
 * residual spread seen so far (at least `minimumStep`, never more than what is left).
 */
export function samplesNeeded(current: CountEstimate, target: number, remaining: number, minimumStep = 16): number {
  if (current.halfWidth <= target) return 0;
  if (!Number.isFinite(current.halfWidth)) return Math.min(remaining, Math.max(minimumStep, 30));
  const ratio = (current.halfWidth / target) ** 2;
  const wanted = Math.ceil(current.sampled * ratio * 1.1) - current.sampled;
  return Math.min(remaining, Math.max(minimumStep, wanted));
}
