import { describe, expect, it } from 'vitest';
import { estimateFrameAverage, samplesNeeded } from '../../src/optimizer/count-estimator.js';
import { Random } from '../../src/training/random.js';

/** A population of per-frame counts with a trend and noise, and an imperfect, biased model of it. */
function population(n: number, rng: Random): { truth: number[]; model: number[] } {
  const truth: number[] = [];
  const model: number[] = [];
  for (let i = 0; i < n; i++) {
    const level = 3 + 2 * Math.sin(i / 90);
    const y = Math.max(0, Math.round(level + rng.normal()));
    truth.push(y);
    model.push(Math.max(0, level * 0.8 + 0.4 * rng.normal())); // biased low, noisy
  }
  return { truth, model };
}

describe('estimateFrameAverage (control variate with a random sample)', () => {
  it('covers the true average at least as often as the confidence level says', () => {
    const rng = new Random(7);
    const { truth, model } = population(2000, rng);
    const trueMean = truth.reduce((a, b) => a + b, 0) / truth.length;
    let covered = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      const order = truth.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const sample = order.slice(0, 120);
      const inSample = new Set(sample);
      let predicted = 0;
      for (let i = 0; i < truth.length; i++) if (!inSample.has(i)) predicted += model[i]!;
      const e = estimateFrameAverage({
        frames: truth.length,
        exactSum: 0,
        exactFrames: 0,
        predictedSumUnsampled: predicted,
        sampleTruth: sample.map((i) => truth[i]!),
        samplePrediction: sample.map((i) => model[i]!),
        confidence: 0.95,
      });
      if (Math.abs(e.value - trueMean) <= e.halfWidth) covered++;
    }
    expect(covered / runs).toBeGreaterThanOrEqual(0.93);
  });

  it('is exact when every frame is labelled, and asks for more samples when too wide', () => {
    const e = estimateFrameAverage({ frames: 4, exactSum: 6, exactFrames: 2, predictedSumUnsampled: 0, sampleTruth: [1, 3], samplePrediction: [0, 0], confidence: 0.9 });
    expect(e).toMatchObject({ value: 2.5, halfWidth: 0 });
    const wide = { value: 1, halfWidth: 0.4, confidence: 0.95, sampled: 50 };
    expect(samplesNeeded(wide, 0.1, 10_000)).toBeGreaterThan(700);
    expect(samplesNeeded(wide, 0.1, 30)).toBe(30);
    expect(samplesNeeded({ ...wide, halfWidth: 0.05 }, 0.1, 100)).toBe(0);
  });
});
