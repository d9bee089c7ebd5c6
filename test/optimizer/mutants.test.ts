/**
 * Unit tests written against mutants StrykerJS found surviving (`npm run mutate`, TESTING.md):
 * hand-computed values for the difference detectors and their choice, and for the count
 * estimator's pieces, so an off-by-one, a flipped comparison or a wrong operand changes a number
 * the test pins. Fast (a few seconds) because Stryker runs them once per mutant.
 */
import { describe, expect, it } from 'vitest';
import { calibrateDifference, calibrateInterpolation, calibratePresence, decide, netCandidates, skipErrorRate } from '../../src/optimizer/calibration.js';
import { chooseDifferenceDetector, type DifferenceChoice } from '../../src/optimizer/difference-choice.js';
import { distance, medianImage } from '../../src/video/frame-distance.js';
import {
  estimateStratified,
  neighbourVariance,
  refineBlocks,
  sampleStratified,
  splitBlocks,
  topUpBlocks,
  type Block,
  type StratifiedEstimate,
} from '../../src/optimizer/count-estimator.js';
import { probit } from 'simple-statistics';
import { Random } from '../../src/training/random.js';

const MSE = 255 * 255;

/** Frames of one uniform grey level each (size x size RGB). */
function uniform(greys: readonly number[], size = 2): Uint8Array {
  const bytes = size * size * 3;
  const images = new Uint8Array(greys.length * bytes);
  greys.forEach((g, i) => images.fill(g, i * bytes, (i + 1) * bytes));
  return images;
}

function randomImage(rng: Random, n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.floor(rng.next() * 256);
  return a;
}

const candidate = (c: DifferenceChoice, kind: string, reference: string) => c.candidates.find((x) => x.spec.kind === kind && x.spec.reference === reference);

describe('difference detectors against definitions written out here', () => {
  const rng = new Random(21);

  it('global: mean squared difference over every byte; blocked: the largest block mean over an uneven grid', () => {
    const [w, h, grid] = [7, 5, 3];
    const a = randomImage(rng, w * h * 3);
    const b = Uint8Array.from(a);
    // A change confined to the corner block of a 3x3 grid over 7x5 pixels (columns 5-6, row 4).
    for (const [x, y] of [[5, 4], [6, 4]] as const) for (let c = 0; c < 3; c++) b[(y * w + x) * 3 + c] = 255 - a[(y * w + x) * 3 + c]!;
    let all = 0;
    for (let i = 0; i < a.length; i++) all += (a[i]! - b[i]!) ** 2;
    expect(distance({ kind: 'global', reference: 'earlier-frame', grid }, a, b, w, h)).toBeCloseTo(all / (a.length * MSE), 12);
    const blocks: number[] = [];
    for (let by = 0; by < grid; by++) {
      for (let bx = 0; bx < grid; bx++) {
        let sum = 0;
        let count = 0;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            if (Math.floor((x * grid) / w) !== bx || Math.floor((y * grid) / h) !== by) continue;
            for (let c = 0; c < 3; c++) sum += (a[(y * w + x) * 3 + c]! - b[(y * w + x) * 3 + c]!) ** 2;
            count += 3;
          }
        }
        blocks.push(sum / (count * MSE));
      }
    }
    const blocked = distance({ kind: 'blocked', reference: 'earlier-frame', grid }, a, b, w, h);
    expect(blocked).toBeCloseTo(Math.max(...blocks), 12);
    expect(blocks.filter((d) => d > 0)).toHaveLength(1);
    // The block's mean is above the whole image's: what the blocked detector is for.
    expect(blocked).toBeGreaterThan(3 * (all / (a.length * MSE)));
  });

  it('the background is the per-pixel median (the lower one for an even count)', () => {
    for (const k of [5, 4]) {
      const frames = Array.from({ length: k }, () => randomImage(rng, 30));
      const median = medianImage(frames);
      for (let i = 0; i < 30; i++) {
        const sorted = frames.map((f) => f[i]!).sort((x, y) => x - y);
        expect(median[i]).toBe(sorted[Math.ceil(k / 2) - 1]);
      }
    }
    expect(() => medianImage([])).toThrow(/at least one frame/);
  });
});

describe('calibration, by hand', () => {
  it('presence: thresholds at the stage share of each target, on sorted held-out scores, and the rates they give', () => {
    // 11 positives and 11 negatives, interleaved and unsorted.
    const pos = [0.9, 0.8, 0.3, 0.6, 0.7, 0.95, 0.85, 0.75, 0.65, 0.55, 0.1];
    const neg = [0.1, 0.5, 0.2, 0.05, 0.15, 0.25, 0.3, 0.12, 0.08, 0.4, 0.9];
    const scores = pos.flatMap((p, i) => [p, neg[i]!]);
    const truth = pos.flatMap(() => [1, 0]);
    const t = calibratePresence(scores, truth, { fnr: 0.2, fpr: 0.4 });
    // floor(0.2 x 0.5 x 11) = 1: the second lowest positive (0.3), halved; floor(0.4 x 0.5 x 11) = 2:
    // the third highest negative (0.4), pulled halfway to 1.
    expect(t.cLow).toBeCloseTo(0.15, 12);
    expect(t.cHigh).toBeCloseTo(0.7, 12);
    // Positive 0.1 decided negative, negative 0.9 decided positive; 11 of 22 between the two.
    expect(t).toMatchObject({ fnr: 1 / 11, fpr: 1 / 11, uncertain: 0.5, positives: 11, negatives: 11 });
  });

  it('presence: a threshold itself is uncertain; no negatives held out means nothing decided positive', () => {
    expect(decide(0.3, { cLow: 0.3, cHigh: 0.7 })).toBe(-1);
    expect(decide(0.7, { cLow: 0.3, cHigh: 0.7 })).toBe(-1);
    expect(decide(0.2999, { cLow: 0.3, cHigh: 0.7 })).toBe(0);
    expect(decide(0.7001, { cLow: 0.3, cHigh: 0.7 })).toBe(1);
    const t = calibratePresence([0.8, 0.9], [1, 1], { fnr: 0.01, fpr: 0.01 });
    expect(t).toMatchObject({ cLow: 0.4, cHigh: 1, fnr: 0, fpr: 0, uncertain: 1, negatives: 0 });
    expect(calibratePresence([], [], { fnr: 0.01, fpr: 0.01 })).toEqual({ cLow: 0, cHigh: 1, fnr: 0, fpr: 0, uncertain: 1, positives: 0, negatives: 0 });
  });

  it('difference threshold: the median distance when no pair changed, strictly below it counts', () => {
    expect(calibrateDifference([], [])).toEqual({ threshold: 0, hitRate: 0, pairs: 0, errors: 0 });
    expect(calibrateDifference([0.5, 0.1, 0.2, 0.3], [false, false, false, false])).toEqual({ threshold: 0.3, hitRate: 0.5, pairs: 4, errors: 0 });
  });

  it('frame skip error rate: (changes + 1) per frame times (k - 1) / 2, none without a skip or a span', () => {
    expect(skipErrorRate(4, 100, 5)).toBeCloseTo(0.1, 12);
    expect(skipErrorRate(4, 0, 5)).toBe(0);
    expect(skipErrorRate(4, -10, 5)).toBe(0);
    expect(skipErrorRate(4, 100, 0)).toBe(0);
  });

  it('interpolation: agreeing gaps, errors, and what a net flags at its exact thresholds', () => {
    //             0    1     2    3    4    5    6    7    8    9   10   11
    const truth = [0, 0, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1];
    const scores = [0.1, 0.25, 0.1, 0.8, 0.1, 0.2, 0.9, 0.5, 0.9, 0.6, 0.9, 0.9];
    // Agreeing gaps at frames 1 (0|0, correct), 3 (0|0, a positive), 7 (1|1, correct), 9 (1|1, a
    // negative); 5 positives and 5 negatives among frames 1-10.
    expect(calibrateInterpolation(truth, scores, { cLow: 0.25, cHigh: 0.5 })).toEqual({
      agreeing: 4, errors: 2, missedByNet: 1, flagged: 0.75, fnr: 0.2, fpr: 0.2, fnrWithNet: 0, fprWithNet: 0.2,
    });
    expect(calibrateInterpolation(truth, scores, { cLow: 0.9, cHigh: 0.5 })).toEqual({
      agreeing: 4, errors: 2, missedByNet: 2, flagged: 0.25, fnr: 0.2, fpr: 0.2, fnrWithNet: 0.2, fprWithNet: 0.2,
    });
  });

  it('safety nets: anchors from sorted held-out scores and the errors, each error judged without itself', () => {
    const truth = [0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0];
    const scores = [0.1, 0.2, 0.1, 0.1, 0.4, 0.1, 0.1, 0.05, 0.8, 0.9, 0.9, 0.35, 0.9, 0.9, 0.1];
    // Positive errors (frames 1, 4, 7): 0.2, 0.4, 0.05; negative errors (frames 8, 11): 0.8, 0.35.
    // Frames 1-13 hold 7 positives and 6 negatives.
    const held = { scores: [0.9, 0.6, 0.7, 0.8, 0.65, 0.3, 0.1, 0.2, 0.05, 0.4], truth: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0] };
    // Anchors at floor(0.4 x 0.5 x 5) = 1: second lowest held-out positive 0.65, second highest negative 0.3.
    const nets = netCandidates(truth, scores, held, { fnr: 0.4, fpr: 0.4 });
    const [wide, quarter] = nets;
    // cLow = 0.5 x min(0.65, errors) = 0.025; cHigh = 1 - 0.5 x (1 - max(0.3, errors)) = 0.9.
    expect(wide!.cLow).toBeCloseTo(0.025, 12);
    expect(wide!.cHigh).toBeCloseTo(0.9, 12);
    // Without itself: 0.05 against 0.5 x 0.2 = 0.1 is missed; 0.8 against 1 - 0.5 x 0.65 = 0.675 is missed.
    expect(wide).toMatchObject({ errors: 5, missed: 2, fnr: 1 / 7, fpr: 1 / 6, flagged: 1 });
    // Margin 0.25: 0.05 against 0.25 x 0.2 = 0.05 exactly (caught), 0.8 against 0.8375 (caught).
    expect(quarter).toMatchObject({ margin: 0.25, errors: 5, missed: 0, fnr: 0, fpr: 0 });
    expect(quarter!.cLow).toBeCloseTo(0.0125, 12);
    expect(quarter!.cHigh).toBeCloseTo(0.95, 12);
  });

  it('safety nets: where the held-out anchors are the more cautious side, they set the thresholds', () => {
    const truth = [0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0];
    // Positive errors 0.5, 0.6, 0.7 (above the held-out anchor 0.3); negative errors 0.75 and 0.3.
    const scores = [0.1, 0.5, 0.1, 0.1, 0.6, 0.1, 0.1, 0.7, 0.75, 0.9, 0.9, 0.3, 0.9, 0.9, 0.1];
    // Held-out positives sort to 0.2, 0.3, ...; negatives (descending) to 0.8, 0.5, ...: anchors 0.3 and 0.5.
    const held = { scores: [0.9, 0.6, 0.3, 0.8, 0.2, 0.1, 0.2, 0.8, 0.05, 0.5], truth: [1, 1, 1, 1, 1, 0, 0, 0, 0, 0] };
    const wide = netCandidates(truth, scores, held, { fnr: 0.4, fpr: 0.4 })[0]!;
    expect(wide.cLow).toBeCloseTo(0.15, 12);
    expect(wide.cHigh).toBeCloseTo(0.875, 12);
    // 0.75 without itself: 1 - 0.5 x (1 - max(0.5, 0.3)) = 0.75, caught (at most the threshold).
    expect(wide).toMatchObject({ errors: 5, missed: 0, fnr: 0, fpr: 0 });
  });

  it('safety nets: a side with no held-out frames is set by its errors alone, and a side seen nowhere has no net', () => {
    // Negative errors at frames 2 (0.4) and 5 (0.3); no positive errors; nothing held out on the negative side.
    const truth = [1, 1, 0, 1, 1, 0, 1];
    const scores = [0.9, 0.9, 0.4, 0.9, 0.9, 0.3, 0.9];
    const nets = netCandidates(truth, scores, { scores: [0.8], truth: [1] }, { fnr: 0.1, fpr: 0.1 });
    expect(nets[0]!.cHigh).toBeCloseTo(1 - 0.5 * (1 - 0.4), 12);
    expect(nets[0]!.cLow).toBeCloseTo(0.4, 12);
    const none = netCandidates([0, 0, 0], [0.1, 0.1, 0.1], { scores: [], truth: [] }, { fnr: 0.1, fpr: 0.1 });
    for (const n of none) expect([n.cLow, n.cHigh]).toEqual([2, -1]);
  });
});

describe('chooseDifferenceDetector on scenes whose numbers are worked out by hand', () => {
  // 13 frames, an object in frames 6-7. Against the earlier frame: grey steps of 0-1 except 59 and
  // 61 at the two changes, so the threshold is 59^2 / 2 and 10 of 12 pairs fall under it. Against
  // the background (the median of the 11 negatives, grey 100): the two positives at 60 and 61, the
  // rest at 0-1, threshold 60^2 / 2, 11 of 13 frames under it. No change is much closer than the
  // next one, so no leave-one-out error.
  const greys = [100, 100, 101, 100, 100, 101, 160, 161, 100, 101, 100, 100, 101];
  const truth = greys.map((_, i) => (i === 6 || i === 7 ? 1 : 0));

  it('measures each candidate on the right pairs and picks the one that decides most frames', () => {
    const choice = chooseDifferenceDetector({ images: uniform(greys), size: 2, truth, modelSeconds: 1000, grid: 2, errorBudget: 0.0025 });
    expect(choice.candidates.map((c) => `${c.spec.kind}/${c.spec.reference}`)).toEqual(['global/earlier-frame', 'global/background', 'blocked/earlier-frame', 'blocked/background']);
    for (const kind of ['global', 'blocked']) {
      expect(candidate(choice, kind, 'earlier-frame')).toMatchObject({ hitRate: 10 / 12, errorRate: 0 });
      expect(candidate(choice, kind, 'background')).toMatchObject({ hitRate: 11 / 13, errorRate: 0 });
    }
    // Expected seconds 1000 x 2/13 = 154 and 1000 x 2/12 = 167: within 10%, so the higher hit rate
    // wins, and of the two equal ones (blocked equals global on uniform frames) the first in the
    // fixed order.
    expect(choice.spec).toEqual({ kind: 'global', reference: 'background', grid: 2 });
    expect(choice.enabled).toBe(true);
    expect(choice.threshold).toBeCloseTo((60 * 60) / 2 / MSE, 12);
    expect(choice.errors).toBe(0);
    expect(choice.pairs).toBe(13);
    expect(choice.expectedSeconds).toBeCloseTo(choice.secondsPerFrame + (1 - 11 / 13) * 1000, 9);
    expect(new Uint8Array(Buffer.from(choice.background!, 'base64'))).toEqual(uniform([100]));
  });

  it('counts a change that falls under the threshold set without it, against its own denominator, and holds it to the budget', () => {
    // Changes at frame 3 (grey step 60) and frame 6 (step 10), the nearer one last so the changes
    // must be sorted: without the step-60 change the threshold would be 10^2 / 2, without the
    // step-10 one 60^2 / 2 > 10^2: one leave-one-out miss over 8 pairs. Against the background
    // (grey 100: negatives 170 x 3 and 100 x 3) the three positives are all at step 10: no miss.
    const g = [170, 170, 170, 110, 110, 110, 100, 100, 100];
    const t = [0, 0, 0, 1, 1, 1, 0, 0, 0];
    const at = (errorBudget: number) => chooseDifferenceDetector({ images: uniform(g), size: 2, truth: t, modelSeconds: 1000, grid: 2, errorBudget });
    const within = at(0.125);
    expect(candidate(within, 'global', 'earlier-frame')).toMatchObject({ errorRate: 1 / 8, hitRate: 6 / 8 });
    expect(candidate(within, 'global', 'background')).toMatchObject({ errorRate: 0, hitRate: 3 / 9 });
    expect(within.spec.reference).toBe('earlier-frame');
    const over = at(0.12);
    expect(candidate(over, 'global', 'earlier-frame')).toMatchObject({ errorRate: 1 / 8, hitRate: 0 });
    expect(over.spec.reference).toBe('background');
    expect(over.hitRate).toBe(3 / 9);

    // The same against the background: positives at steps 60, 60 and 10 (negatives grey 100).
    const bg = chooseDifferenceDetector({ images: uniform([100, 100, 100, 100, 100, 160, 160, 110]), size: 2, truth: [0, 0, 0, 0, 0, 1, 1, 1], modelSeconds: 1000, grid: 2, errorBudget: 0.5 });
    expect(candidate(bg, 'global', 'background')).toMatchObject({ errorRate: 1 / 3, hitRate: 5 / 8 });
  });

  it('does not count a change exactly twice as near as the next one as missed (the threshold is strict)', () => {
    // 2x2 frames of grey 100; the changes alter one byte by 10 (squared sum 100), then two more
    // bytes by 10 (200): half of 200 is not under itself.
    const base = new Uint8Array(12).fill(100);
    const one = Uint8Array.from(base, (v, i) => (i === 0 ? 110 : v));
    const three = Uint8Array.from(base, (v, i) => (i < 3 ? 110 : v));
    const frames = [base, base, one, one, three, three];
    const images = new Uint8Array(12 * frames.length);
    frames.forEach((f, i) => images.set(f, 12 * i));
    const choice = chooseDifferenceDetector({ images, size: 2, truth: [0, 0, 1, 1, 0, 0], modelSeconds: 1000, grid: 2, errorBudget: 0.0025 });
    expect(choice.candidates).toHaveLength(2);
    for (const c of choice.candidates) expect(c).toMatchObject({ errorRate: 0, hitRate: 3 / 5 });
  });

  it('offers a background from five negatives, none from four, and a background that saw no positive decides nothing', () => {
    const five = chooseDifferenceDetector({ images: uniform([100, 100, 101, 100, 100, 150, 150]), size: 2, truth: [0, 0, 0, 0, 0, 1, 1], modelSeconds: 1000, grid: 2, errorBudget: 0.0025 });
    expect(five.candidates).toHaveLength(4);
    const four = chooseDifferenceDetector({ images: uniform([100, 100, 101, 100, 150, 150, 150]), size: 2, truth: [0, 0, 0, 0, 1, 1, 1], modelSeconds: 1000, grid: 2, errorBudget: 0.0025 });
    expect(four.candidates.map((c) => c.spec.reference)).toEqual(['earlier-frame', 'earlier-frame']);
    // All negative: the background (median grey 101) would decide 1 of 6 frames at its median threshold.
    const none = chooseDifferenceDetector({ images: uniform([100, 102, 101, 103, 100, 120]), size: 2, truth: [0, 0, 0, 0, 0, 0], modelSeconds: 1000, grid: 2, errorBudget: 0.0025 });
    expect(candidate(none, 'global', 'background')!.hitRate).toBe(0);
    expect(candidate(none, 'global', 'earlier-frame')!.hitRate).toBeGreaterThan(0);
    expect(none.spec.reference).toBe('earlier-frame');
  });

  it('times each distance: per frame, not per pass, and when nothing pays off returns the cheapest', () => {
    const rng = new Random(4);
    const size = 32;
    const n = 60;
    const images = randomImage(rng, n * size * size * 3);
    const t = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? 1 : 0));
    const started = performance.now();
    const choice = chooseDifferenceDetector({ images, size, truth: t, modelSeconds: 0, grid: 4, errorBudget: 0.0025 });
    const seconds = (performance.now() - started) / 1000;
    expect(choice.enabled).toBe(false);
    expect(choice.candidates).toHaveLength(4);
    for (const c of choice.candidates) {
      const count = c.spec.reference === 'earlier-frame' ? n - 1 : n;
      expect(c.secondsPerFrame).toBeGreaterThan(0);
      expect(c.secondsPerFrame * count).toBeLessThanOrEqual(seconds * 1.000001);
    }
    expect(choice.secondsPerFrame).toBe(Math.min(...choice.candidates.map((c) => c.secondsPerFrame)));
    expect(choice.expectedSeconds).toBe(choice.secondsPerFrame);
  });
});

describe('count estimator pieces, by hand', () => {
  const strata = [
    { size: 4, predictedSumUnsampled: 2, sampleTruth: [1, 3], samplePrediction: [0.5, 1.5] }, // residuals 0.5, 1.5
    { size: 5, predictedSumUnsampled: 3, sampleTruth: [2, 2], samplePrediction: [1, 1] }, // residuals 1, 1
    { size: 6, predictedSumUnsampled: 1, sampleTruth: [4, 0, 2], samplePrediction: [1, 0, 1] }, // residuals 3, 0, 1
  ];

  it('adds each block: sampled values, model predictions for the rest and the block mean residual; variance from neighbouring blocks', () => {
    const e = estimateStratified({ frames: 20, exactSum: 3, exactFrames: 5, strata, confidence: 0.9 });
    // totals: 4 + 2 + 2 x 1 = 8; 4 + 3 + 3 x 1 = 10; 6 + 1 + 3 x (4/3) = 11; plus 3 exact = 32
    expect(e.value).toBeCloseTo(32 / 20, 12);
    expect(e.sampled).toBe(7);
    expect(e.confidence).toBe(0.9);
    // Residual variances: blocks 0-1 {0.5, 1.5, 1, 1}: 0.5 / 3 = 1/6; blocks 0-2 {.., 3, 0, 1}:
    // (75/14) / 6 = 25/28; blocks 1-2 {1, 1, 3, 0, 1}: 4.8 / 4 = 1.2. Contributions N^2 (1 - m/N) var / m.
    const c = [(16 * 0.5 * (1 / 6)) / 2, (25 * 0.6 * (25 / 28)) / 2, (36 * 0.5 * 1.2) / 3];
    expect([...e.contributions].map((x) => Number(x.toFixed(10)))).toEqual(c.map((x) => Number(x.toFixed(10))));
    expect(e.halfWidth).toBeCloseTo((probit(0.95) * Math.sqrt(c[0]! + c[1]! + c[2]!)) / 20, 10);
  });

  it('a fully sampled block adds its values and no variance; a block with one sample of several is no estimate', () => {
    const full = estimateStratified({ frames: 6, exactSum: 0, exactFrames: 0, strata: [{ size: 2, predictedSumUnsampled: 0, sampleTruth: [1, 2], samplePrediction: [5, 5] }, strata[0]!], confidence: 0.95 });
    expect(full.value).toBeCloseTo((3 + 8) / 6, 12);
    expect(full.contributions[0]).toBe(0);
    const one = estimateStratified({ frames: 6, exactSum: 0, exactFrames: 0, strata: [{ size: 3, predictedSumUnsampled: 0, sampleTruth: [1], samplePrediction: [0] }], confidence: 0.95 });
    expect(one.value).toBeNaN();
    expect(one.halfWidth).toBe(Number.POSITIVE_INFINITY);
    expect(one.sampled).toBe(1);
    // A one-frame block fully sampled is exact, not a block with too few samples.
    const single = estimateStratified({ frames: 5, exactSum: 0, exactFrames: 0, strata: [{ size: 1, predictedSumUnsampled: 0, sampleTruth: [3], samplePrediction: [0] }, strata[0]!], confidence: 0.95 });
    expect(single.value).toBeCloseTo(11 / 5, 12);
    expect(single.sampled).toBe(3);
  });

  it('one block on its own: the variance of its two residuals', () => {
    const e = estimateStratified({ frames: 4, exactSum: 0, exactFrames: 0, strata: [{ size: 4, predictedSumUnsampled: 0, sampleTruth: [1, 3], samplePrediction: [0, 0] }], confidence: 0.95 });
    // value (4 + 2 x 2) / 4; residual variance 2; contribution 16 x 0.5 x 2 / 2 = 8.
    expect(e.value).toBe(2);
    expect(e.halfWidth).toBeCloseTo((probit(0.975) * Math.sqrt(8)) / 4, 12);
  });

  it('neighbour variance is half the mean squared step', () => {
    expect(neighbourVariance([1, 3, 2])).toBe(5 / 4);
    expect(neighbourVariance([4])).toBe(0);
    expect(neighbourVariance([])).toBe(0);
  });

  it('splits blocks evenly, tops them up without repeats, refines towards the target', () => {
    expect(splitBlocks([{ lo: 10, hi: 21 }], 3)).toEqual([{ lo: 10, hi: 13 }, { lo: 13, hi: 17 }, { lo: 17, hi: 21 }]);
    expect(splitBlocks([{ lo: 0, hi: 6 }, { lo: 6, hi: 8 }], 2)).toEqual([{ lo: 0, hi: 3 }, { lo: 3, hi: 6 }, { lo: 6, hi: 8 }]);
    const population = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(topUpBlocks(population, [{ lo: 0, hi: 5 }, { lo: 5, hi: 10 }, { lo: 10, hi: 11 }], new Set([0, 1, 2]), 2, () => 0)).toEqual([5, 9, 10]);
    expect(topUpBlocks(population, [{ lo: 5, hi: 10 }], new Set([6]), 3, () => 0.999)).toEqual([9, 8]);

    const ten: Block[] = Array.from({ length: 10 }, (_, j) => ({ lo: 10 * j, hi: 10 * j + 10 }));
    const at = (halfWidth: number) => ({ value: 1, halfWidth, confidence: 0.95, sampled: 20, contributions: new Float64Array(10) }) as StratifiedEstimate;
    const halved = (blocks: Block[]) => blocks.filter((b) => b.hi - b.lo === 5).map((b) => b.lo / 10);
    expect(refineBlocks(ten, at(0.2), 0.1)).toHaveLength(20); // (2)^2 x 1.1 = 4.4: capped at doubling
    expect(refineBlocks(ten, at(Number.POSITIVE_INFINITY), 0.1)).toHaveLength(20);
    const some = refineBlocks(ten, at(0.11), 0.1); // 1.21 x 1.1 = 1.331: 14 blocks, 4 halved, spread out
    expect(some).toHaveLength(14);
    expect([...new Set(halved(some).map(Math.floor))]).toEqual([1, 3, 6, 8]);
    const one = refineBlocks(ten, at(0.01), 0.1); // at least one more block
    expect(one).toHaveLength(11);
    expect([...new Set(halved(one).map(Math.floor))]).toEqual([5]);
    const small: Block[] = [{ lo: 0, hi: 5 }, { lo: 5, hi: 10 }];
    expect(refineBlocks(small, at(1), 0.1)).toEqual(small);
  });

  it('sizes the first blocks from the pilot variance and stops once the interval is narrow enough', async () => {
    const drawn: number[] = [];
    // N = frames = 1000, pilot variance 1, target 0.1: (10 z)^2 / 2 frames wanted, two per block
    // (z = simple-statistics' probit(0.975), 1.957: 96 blocks, 192 frames).
    const blocks = Math.ceil((10 * probit(0.975)) ** 2 / 4);
    const r = await sampleStratified({
      population: Array.from({ length: 1000 }, (_, i) => i),
      frames: 1000,
      exactSum: 0,
      exactFrames: 0,
      within: 0.1,
      confidence: 0.95,
      pilotVariance: 1,
      random: () => 0.5,
      predicted: () => 0,
      label: (frames) => void drawn.push(...frames),
      // 0 and 1 in turn: every block's two draws (its middle frames) differ, a variance of 1/2 in each.
      value: (f) => f % 2,
    });
    expect(blocks).toBeGreaterThan(90);
    expect(r.blocks).toHaveLength(blocks);
    expect(r.drawn.size).toBe(2 * blocks);
    expect(drawn).toHaveLength(2 * blocks);
    expect(r.estimate.sampled).toBe(2 * blocks);
    expect(r.estimate.halfWidth).toBeGreaterThan(0);
    expect(r.estimate.halfWidth).toBeLessThanOrEqual(0.1);
    // Draws that all agree are not certainty: the blocks borrow the pilot's variance and sampling goes on.
    const steady = await sampleStratified({ population: Array.from({ length: 1000 }, (_, i) => i), frames: 1000, exactSum: 0, exactFrames: 0, within: 0.1, confidence: 0.95, pilotVariance: 1, random: () => 0.5, predicted: () => 0, label: () => undefined, value: () => 2 });
    expect(steady.estimate.value).toBe(2);
    expect(steady.estimate.halfWidth).toBeGreaterThan(0);
    expect(steady.estimate.halfWidth).toBeLessThanOrEqual(0.1);
    expect(steady.blocks.length).toBeGreaterThan(blocks);
    const few = await sampleStratified({ population: Array.from({ length: 100 }, (_, i) => i), frames: 100, exactSum: 0, exactFrames: 0, within: 0.1, confidence: 0.95, pilotVariance: 0, random: () => 0, predicted: () => 0, label: () => undefined, value: () => 1 });
    expect(few.blocks).toHaveLength(4);
    expect(few.estimate.sampled).toBe(8);
  });

  it('labels the rest and answers exactly when no block can be split further', async () => {
    const labelled: number[] = [];
    const values = [0, 9, 0, 9, 0, 9, 0, 9, 0, 9, 0, 9];
    const population = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const r = await sampleStratified({
      population,
      frames: 14,
      exactSum: 5,
      exactFrames: 2,
      within: 1e-6,
      confidence: 0.95,
      pilotVariance: 0,
      random: () => 0.3,
      predicted: () => 0,
      label: (frames) => void labelled.push(...frames),
      value: (f) => values[f - 1]!,
    });
    expect(r.estimate).toMatchObject({ value: (5 + 54) / 14, halfWidth: 0, sampled: 12 });
    expect([...labelled].sort((a, b) => a - b)).toEqual(population);
  });

  it('covers the true average at about the confidence level over 100 seeded runs, with and without a model', async () => {
    const rng = new Random(11);
    const truth: number[] = [];
    const model: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const level = 3 + 2 * Math.sin(i / 90);
      truth.push(Math.max(0, Math.round(level + rng.normal())));
      model.push(Math.max(0, level * 0.8 + 0.4 * rng.normal()));
    }
    const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
    for (const m of [model, undefined]) {
      let covered = 0;
      let sampled = 0;
      for (let r = 0; r < 100; r++) {
        const { estimate } = await sampleStratified({
          population: truth.map((_, i) => i),
          frames: truth.length,
          exactSum: 0,
          exactFrames: 0,
          within: 0.1,
          confidence: 0.95,
          pilotVariance: 0,
          random: () => rng.next(),
          predicted: (f) => m?.[f] ?? 0,
          label: () => undefined,
          value: (f) => truth[f]!,
        });
        expect(estimate.halfWidth).toBeLessThanOrEqual(0.1);
        expect(estimate.halfWidth).toBeGreaterThan(0.05);
        sampled += estimate.sampled;
        if (Math.abs(estimate.value - mean) <= estimate.halfWidth) covered++;
      }
      expect(covered).toBeGreaterThanOrEqual(90);
      expect(sampled / 100).toBeLessThan(truth.length / 2);
    }
  });
});
