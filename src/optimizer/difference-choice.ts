/**
 * The optimizer's choice among NoScope's difference detectors, from measurements on the labelled
 * sample: global or blocked distance, against the last frame the model evaluated or against a
 * background image (the per-pixel median of the sample's negative frames). Each candidate's cost
 * is timed on this machine; it is kept only when it saves more specialized-model time than it
 * costs and its leave-one-out error rate on the sample stays within its share of the targets.
 */
import { distance, medianImage, type DifferenceDetectorSpec } from '../video/frame-distance.js';
import { calibrateDifference, type DifferenceCalibration } from './calibration.js';

export interface DifferenceChoice extends DifferenceCalibration {
  readonly spec: DifferenceDetectorSpec;
  /** Measured seconds per distance. */
  readonly secondsPerFrame: number;
  /** Expected seconds per frame the model would otherwise see: distance + misses x model. */
  readonly expectedSeconds: number;
  /** The background image (base64 RGB bytes) for `reference: 'background'`. */
  readonly background?: string;
  readonly enabled: boolean;
  /** Every candidate measured, for EXPLAIN and the catalog. */
  readonly candidates: readonly { readonly spec: DifferenceDetectorSpec; readonly hitRate: number; readonly secondsPerFrame: number; readonly errorRate: number }[];
  /** Leave-one-out error rate of the chosen detector on the sample. */
  readonly errorRate: number;
}

export interface DifferenceSample {
  /** Sample frames' images, RGB, `size` x `size`, in frame order. */
  readonly images: Uint8Array;
  readonly size: number;
  /** Presence (1/0) of each sample frame by the reference detector. */
  readonly truth: ArrayLike<number>;
  /** Seconds per frame of the specialized model the detector would spare. */
  readonly modelSeconds: number;
  readonly grid: number;
  /** The largest error rate the detector may add (a share of the query's target). */
  readonly errorBudget: number;
}

/** Minimum negatives for a background image worth trusting. */
const MIN_BACKGROUND_FRAMES = 5;

export function chooseDifferenceDetector(sample: DifferenceSample): DifferenceChoice {
  const { images, size, truth, grid } = sample;
  const bytes = size * size * 3;
  const n = truth.length;
  const frame = (i: number) => images.subarray(i * bytes, (i + 1) * bytes);
  const negatives: Uint8Array[] = [];
  for (let i = 0; i < n; i++) if (!(truth[i]! > 0)) negatives.push(frame(i));
  const background = negatives.length >= MIN_BACKGROUND_FRAMES ? medianImage(negatives) : undefined;
  const options: (DifferenceChoice & { readonly enabled: boolean })[] = [];
  const candidates: DifferenceChoice['candidates'][number][] = [];
  for (const kind of ['global', 'blocked'] as const) {
    for (const reference of ['earlier-frame', 'background'] as const) {
      if (reference === 'background' && !background) continue;
      const spec: DifferenceDetectorSpec = { kind, reference, grid };
      const distances: number[] = [];
      const changed: boolean[] = [];
      // The fastest of three timed passes: one pass takes well under a millisecond, so the JIT
      // warming up or one preemption on a loaded machine would otherwise multiply it (20x was seen)
      // and flip the choice between identical runs.
      let secondsPerFrame = Infinity;
      for (let pass = 0; pass < 3; pass++) {
        distances.length = 0;
        changed.length = 0;
        const started = performance.now();
        if (reference === 'earlier-frame') {
          for (let i = 1; i < n; i++) {
            distances.push(distance(spec, frame(i), frame(i - 1), size, size));
            changed.push(truth[i] !== truth[i - 1]);
          }
        } else {
          // A frame close to the background is decided negative: a positive there is an error.
          for (let i = 0; i < n; i++) {
            distances.push(distance(spec, frame(i), background!, size, size));
            changed.push(truth[i]! > 0);
          }
        }
        secondsPerFrame = Math.min(secondsPerFrame, (performance.now() - started) / 1000 / Math.max(1, distances.length));
      }
      const calibration = calibrateDifference(distances, changed);
      // Leave-one-out: a change counts as missed when it falls under the threshold calibrated
      // without it (half the other changes' smallest distance), so the estimate is not the zero
      // the calibration guarantees on its own data.
      const changedDistances = distances.filter((_, i) => changed[i]).sort((a, b) => a - b);
      const missed = changedDistances.length >= 2 && changedDistances[0]! < changedDistances[1]! * 0.5 ? 1 : 0;
      const errorRate = missed / Math.max(1, reference === 'earlier-frame' ? distances.length : changedDistances.length);
      // A background detector calibrated on no positive frame would decide everything negative.
      const usable = (reference === 'earlier-frame' || changed.some(Boolean)) && errorRate <= sample.errorBudget;
      const hitRate = usable ? calibration.hitRate : 0;
      candidates.push({ spec, hitRate, secondsPerFrame, errorRate });
      const expectedSeconds = secondsPerFrame + (1 - hitRate) * sample.modelSeconds;
      options.push({ ...calibration, hitRate, spec, secondsPerFrame, expectedSeconds, errorRate, enabled: usable && expectedSeconds < sample.modelSeconds, candidates: [], ...(reference === 'background' ? { background: Buffer.from(background!).toString('base64') } : {}) });
    }
  }
  // Every detector reads each pixel once (a block maximum adds a few comparisons), so they cost
  // the same: the fastest pass measured stands for all. Sub-millisecond timings of each differ by
  // noise alone (one preemption made the blocked one 20x slower) and flipped the choice between
  // identical runs; with one cost, the choice turns on the hit rates, which come from the data.
  const pass = Math.min(...options.map((o) => o.secondsPerFrame));
  for (const [i, o] of options.entries()) {
    const expectedSeconds = pass + (1 - o.hitRate) * sample.modelSeconds;
    const usable = o.hitRate > 0;
    options[i] = { ...o, secondsPerFrame: pass, expectedSeconds, enabled: usable && expectedSeconds < sample.modelSeconds };
  }
  // Among enabled detectors within 10% of the cheapest, the one that decides the most frames wins,
  // then the fixed order above, so identical runs pick the same detector.
  const enabled = options.filter((o) => o.enabled);
  if (enabled.length === 0) return { ...options.sort((a, b) => a.expectedSeconds - b.expectedSeconds)[0]!, candidates };
  const cheapest = Math.min(...enabled.map((o) => o.expectedSeconds));
  const near = enabled.filter((o) => o.expectedSeconds <= cheapest * 1.1);
  const pick = near.reduce((a, b) => (b.hitRate > a.hitRate ? b : a));
  return { ...pick, candidates };
}
