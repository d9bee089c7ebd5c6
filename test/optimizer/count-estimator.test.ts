import { describe, expect, it } from 'vitest';
import { estimateFrameAverage, estimateStratified, samplesNeeded, refineBlocks, splitBlocks, topUpBlocks, type Block, type CountEstimate } from '../../src/optimizer/count-estimator.js';
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

/** The sequential stratified procedure the count cascade runs, on an in-memory population. */
function stratified(truth: readonly number[], model: readonly number[] | undefined, target: number, rng: Random, initialBlocks: number): CountEstimate & { blocks: number } {
  const population = truth.map((_, i) => i);
  const drawn = new Set<number>();
  let blocks: Block[] = splitBlocks([{ lo: 0, hi: population.length }], initialBlocks);
  for (;;) {
    for (const f of topUpBlocks(population, blocks, drawn, 2, () => rng.next())) drawn.add(f);
    const strata = blocks.map((b) => {
      const sampleTruth: number[] = [];
      const samplePrediction: number[] = [];
      let predictedSumUnsampled = 0;
      for (let i = b.lo; i < b.hi; i++) {
        if (drawn.has(i)) {
          sampleTruth.push(truth[i]!);
          samplePrediction.push(model?.[i] ?? 0);
        } else predictedSumUnsampled += model?.[i] ?? 0;
      }
      return { size: b.hi - b.lo, predictedSumUnsampled, sampleTruth, samplePrediction };
    });
    const e = estimateStratified({ frames: truth.length, exactSum: 0, exactFrames: 0, strata, confidence: 0.95 });
    if (e.halfWidth <= target) return { ...e, blocks: blocks.length };
    const finer = refineBlocks(blocks, e, target);
    if (finer.length === blocks.length) return { ...e, blocks: blocks.length };
    blocks = finer;
  }
}

describe('estimateStratified (time blocks, sequential refinement)', () => {
  it('covers the true average at the confidence level, with and without a model', () => {
    const rng = new Random(11);
    const { truth, model } = population(2000, rng);
    const trueMean = truth.reduce((a, b) => a + b, 0) / truth.length;
    for (const m of [model, undefined]) {
      let covered = 0;
      const runs = 200;
      for (let r = 0; r < runs; r++) {
        const e = stratified(truth, m, 0.1, rng, 8);
        expect(e.halfWidth).toBeLessThanOrEqual(0.1);
        if (Math.abs(e.value - trueMean) <= e.halfWidth) covered++;
      }
      expect(covered / runs).toBeGreaterThanOrEqual(0.93);
    }
  });

  it('needs far fewer frames than a plain random sample when counts persist over frames, as objects in video do', () => {
    const rng = new Random(5);
    // Objects stay for 10-40 frames: the count is piecewise constant.
    const truth: number[] = [];
    while (truth.length < 2000) {
      const y = Math.max(0, Math.round(4 + 2.5 * rng.normal()));
      for (let k = 10 + Math.floor(rng.next() * 30); k > 0 && truth.length < 2000; k--) truth.push(y);
    }
    const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
    const sd = Math.sqrt(truth.reduce((a, b) => a + (b - mean) ** 2, 0) / truth.length);
    const plain = (1.96 * sd / 0.1) ** 2 / (1 + (1.96 * sd / 0.1) ** 2 / truth.length); // with the finite-population correction
    let sampled = 0;
    let covered = 0;
    const runs = 100;
    for (let r = 0; r < runs; r++) {
      const e = stratified(truth, undefined, 0.1, rng, 8);
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
