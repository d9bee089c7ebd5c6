/**
 * The certification maths: Clopper-Pearson against known values and against its definition, the
 * answer bounds against hand-worked strata, and the coverage of the bounds replayed on synthetic
 * answers whose errors are known (the real-video replay is test/cascade/presence-coverage.test.ts; the procedure with its looks and budget is certification-draw.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { binomialCdf, clopperPearsonUpper, firstLookSizes, lookAlpha, presenceBounds, verificationKey } from '../../src/optimizer/certification.js';
import { Random } from '../../src/training/random.js';

describe('Clopper-Pearson', () => {
  it('matches known one-sided bounds (the rule of three, and a Beta quantile)', () => {
    // 0 of n: the bound solves (1 - u)^n = alpha, u = 1 - alpha^(1/n) (about 3/n at 95%).
    expect(clopperPearsonUpper(0, 100, 0.05)).toBeCloseTo(1 - 0.05 ** (1 / 100), 9);
    // 3 of 20 at one-sided 97.5%: the Beta(4, 17) 97.5% quantile, 0.3789 (R: qbeta(0.975, 4, 17)).
    expect(clopperPearsonUpper(3, 20, 0.025)).toBeCloseTo(0.378927, 5);
    expect(clopperPearsonUpper(5, 5, 0.05)).toBe(1);
  });

  it('is the point where the binomial CDF falls to alpha, with no underflow at large n', () => {
    const u = clopperPearsonUpper(1500, 3000, 0.01);
    expect(binomialCdf(1500, 3000, u)).toBeCloseTo(0.01, 6);
    expect(u).toBeGreaterThan(0.5);
    expect(u).toBeLessThan(0.53);
  });
});

describe('answer bounds', () => {
  it('a fully labelled stratum leaves no error; an unsampled one can hold any', () => {
    const full = presenceBounds({ size: 10, sampled: 10, errors: 2 }, { size: 50, sampled: 50, errors: 1 }, { positives: 40, negatives: 60 }, 0.05);
    expect(full).toMatchObject({ fnr: 0, fpr: 0, precision: 1 });
    const blind = presenceBounds({ size: 0, sampled: 0, errors: 0 }, { size: 100, sampled: 0, errors: 0 }, { positives: 10, negatives: 10 }, 0.05);
    expect(blind.falseNegatives).toBe(100);
    expect(blind.fnr).toBeCloseTo(100 / 110, 9);
  });

  it('worked by hand: 0 misses in 60 of 900 answered negatives, 1 false positive in 30 of 100 answered positives', () => {
    const alpha = 0.05;
    const uNeg = 1 - (alpha / 2) ** (1 / 60);
    const uPos = clopperPearsonUpper(1, 30, alpha / 2);
    const b = presenceBounds({ size: 100, sampled: 30, errors: 1 }, { size: 900, sampled: 60, errors: 0 }, { positives: 80, negatives: 120 }, alpha);
    const fn = 900 * uNeg;
    const fp = 100 * uPos - 1;
    expect(b.falseNegatives).toBeCloseTo(fn, 6);
    expect(b.falsePositives).toBeCloseTo(fp, 6);
    expect(b.fnr).toBeCloseTo(fn / (fn + 80 + (70 - fp)), 6);
    expect(b.fpr).toBeCloseTo(fp / (fp + 120 + (840 - fn)), 6);
    expect(b.precision).toBeCloseTo(1 - fp / (80 + 70), 6);
  });

  it('first looks need about ln(2/alpha)(1 - a)/(a p) labels for FNR, independent of how many frames', () => {
    const t = { fnr: 0.05, fpr: 0.05, precision: undefined, confidence: 0.9 };
    const z = Math.log(2 / lookAlpha(0.1, 0));
    for (const scale of [1, 10, 100]) {
      const s = firstLookSizes(100 * scale, 900 * scale, { positives: 30 * scale, negatives: 0 }, t);
      expect(s.negative).toBe(Math.ceil((1.25 * 900 * z) / ((0.05 / 0.95) * 130)));
    }
  });

  it('the look alphas sum to at most the confidence spent', () => {
    let sum = 0;
    for (let k = 0; k < 40; k++) sum += lookAlpha(0.05, k);
    expect(sum).toBeLessThanOrEqual(0.05 + 1e-12);
  });

  it('verification keys give the same relative order whatever the pool', () => {
    const a = [5, 17, 99, 1000].sort((x, y) => verificationKey(7, x) - verificationKey(7, y));
    const b = [5, 17, 42, 99, 1000, 3].sort((x, y) => verificationKey(7, x) - verificationKey(7, y)).filter((f) => a.includes(f));
    expect(b).toEqual(a);
  });
});

describe('coverage on synthetic answers (the bound holds at least as often as its confidence)', () => {
  it('FNR and FPR bounds over 400 replays of sampling, at 90%', () => {
    const rng = new Random(11);
    let held = 0;
    const runs = 400;
    for (let r = 0; r < runs; r++) {
      // 2,000 unverified frames: 300 answered positive (24 wrong), 1,700 answered negative (17 misses).
      const posErrors = new Set<number>();
      while (posErrors.size < 24) posErrors.add(Math.floor(rng.next() * 300));
      const negErrors = new Set<number>();
      while (negErrors.size < 17) negErrors.add(Math.floor(rng.next() * 1700));
      const m = { pos: 80, neg: 200 };
      let xp = 0;
      let xn = 0;
      const pickP = new Set<number>();
      while (pickP.size < m.pos) pickP.add(Math.floor(rng.next() * 300));
      const pickN = new Set<number>();
      while (pickN.size < m.neg) pickN.add(Math.floor(rng.next() * 1700));
      for (const i of pickP) if (posErrors.has(i)) xp++;
      for (const i of pickN) if (negErrors.has(i)) xn++;
      const verified = { positives: 50 + (m.pos - xp) + xn, negatives: 150 + xp + (m.neg - xn) };
      const b = presenceBounds({ size: 300, sampled: m.pos, errors: xp }, { size: 1700, sampled: m.neg, errors: xn }, verified, 0.1);
      // The truth after the sample's corrections.
      const fn = 17 - xn;
      const fp = 24 - xp;
      const positives = 50 + 276 + 17;
      const negatives = 150 + 1683 + 24;
      if (fn / positives <= b.fnr + 1e-12 && fp / negatives <= b.fpr + 1e-12) held++;
    }
    expect(held / runs).toBeGreaterThanOrEqual(0.9);
  });
});
