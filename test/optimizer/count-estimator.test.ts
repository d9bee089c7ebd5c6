import { describe, expect, it } from 'vitest';
import { estimateStratified, sampleStratified, splitBlocks, topUpBlocks, type CountEstimate } from '../../src/optimizer/count-estimator.js';
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

/** The sequential stratified procedure the count cascade runs, on an in-memory population. */
async function stratified(truth: readonly number[], model: readonly number[] | undefined, target: number, rng: Random): Promise<CountEstimate> {
  const { estimate } = await sampleStratified({
    population: truth.map((_, i) => i),
    frames: truth.length,
    exactSum: 0,
    exactFrames: 0,
    within: target,
    confidence: 0.95,
    pilotVariance: 0,
    random: () => rng.next(),
    predicted: (f) => model?.[f] ?? 0,
    label: () => undefined,
    value: (f) => truth[f]!,
  });
  return estimate;
}

describe('estimateStratified (time blocks, sequential refinement)', () => {
  it('covers the true average at the confidence level, with and without a model', async () => {
    const rng = new Random(11);
    const { truth, model } = population(2000, rng);
    const trueMean = truth.reduce((a, b) => a + b, 0) / truth.length;
    for (const m of [model, undefined]) {
      let covered = 0;
      const runs = 1000;
      for (let r = 0; r < runs; r++) {
        const e = await stratified(truth, m, 0.1, rng);
        expect(e.halfWidth).toBeLessThanOrEqual(0.1);
        if (Math.abs(e.value - trueMean) <= e.halfWidth) covered++;
      }
      expect(covered / runs).toBeGreaterThanOrEqual(0.93);
    }
  });

  it('needs far fewer frames than a plain random sample when counts persist over frames, as objects in video do', async () => {
    const rng = new Random(5);
    // Objects come and go one at a time and stay for 10-40 frames: the count is piecewise constant
    // and moves in steps of one.
    const truth: number[] = [];
    let y = 4;
    while (truth.length < 2000) {
      for (let k = 10 + Math.floor(rng.next() * 30); k > 0 && truth.length < 2000; k--) truth.push(y);
      y = Math.max(0, y + (rng.next() < 0.5 ? -1 : 1));
    }
    const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
    const sd = Math.sqrt(truth.reduce((a, b) => a + (b - mean) ** 2, 0) / truth.length);
    const plain = (1.96 * sd / 0.1) ** 2 / (1 + (1.96 * sd / 0.1) ** 2 / truth.length); // with the finite-population correction
    let sampled = 0;
    let covered = 0;
    const runs = 100;
    for (let r = 0; r < runs; r++) {
      const e = await stratified(truth, undefined, 0.1, rng);
      sampled += e.sampled;
      if (Math.abs(e.value - mean) <= e.halfWidth) covered++;
    }
    expect(covered / runs).toBeGreaterThanOrEqual(0.9);
    expect(sampled / runs).toBeLessThan(plain / 2);
  });

  it('is exact when blocks are fully sampled, and blocks too small to split stay whole', () => {
    const e = estimateStratified({ frames: 5, exactSum: 2, exactFrames: 1, strata: [{ size: 2, predictedSumUnsampled: 0, sampleTruth: [1, 3], samplePrediction: [0, 0] }, { size: 2, predictedSumUnsampled: 0, sampleTruth: [2, 2], samplePrediction: [9, 9] }], confidence: 0.95 });
    expect(e).toMatchObject({ value: 2, halfWidth: 0 });
    expect(splitBlocks([{ lo: 0, hi: 5 }], 4)).toEqual([{ lo: 0, hi: 5 }]);
    expect(splitBlocks([{ lo: 0, hi: 12 }], 4)).toEqual([{ lo: 0, hi: 3 }, { lo: 3, hi: 6 }, { lo: 6, hi: 9 }, { lo: 9, hi: 12 }]);
    const drawn = topUpBlocks([10, 11, 12, 13, 14, 15], [{ lo: 0, hi: 3 }, { lo: 3, hi: 6 }], new Set([10]), 2, () => 0);
    expect(drawn).toHaveLength(3);
    expect(drawn.filter((f) => f < 13)).toHaveLength(1);
  });
});
