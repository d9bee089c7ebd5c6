import { describe, expect, it } from 'vitest';
import { calibrateDifference, calibrateInterpolation, calibratePresence, decide, NET_MARGINS, netCandidates, skipErrorRate } from '../../src/optimizer/calibration.js';

describe('calibratePresence', () => {
  it('keeps every held-out positive and negative on the right side, with margin', () => {
    const scores = [0.05, 0.1, 0.2, 0.6, 0.7, 0.9, 0.95];
    const truth = [0, 0, 0, 1, 1, 1, 1];
    const t = calibratePresence(scores, truth, { fnr: 0.01, fpr: 0.01 });
    expect(t.cLow).toBeCloseTo(0.3);
    expect(t.cHigh).toBeCloseTo(0.6);
    expect([t.fnr, t.fpr]).toEqual([0, 0]);
    expect(decide(0.05, t)).toBe(0);
    expect(decide(0.95, t)).toBe(1);
    expect(decide(0.45, t)).toBe(-1);
  });

  it('decides nothing it cannot measure: no positives held out means no negative decisions', () => {
    const t = calibratePresence([0.1, 0.2], [0, 0], { fnr: 0.01, fpr: 0.01 });
    expect(t.cLow).toBe(0);
    expect(decide(0.01, t)).not.toBe(0);
  });
});

describe('interpolation and its safety net', () => {
  //             0    1    2    3    4    5    6    7    8    9   10
  const truth = [0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1];
  const scores = [0.1, 0.1, 0.8, 0.2, 0.1, 0.3, 0.1, 0.1, 0.2, 0.9, 0.9];
  const held = { scores: [0.1, 0.05, 0.7, 0.9], truth: [0, 0, 1, 1] };

  it('measures leave-one-out interpolation errors', () => {
    const c = calibrateInterpolation(truth, scores, { cLow: 2, cHigh: -1 });
    // frames 2 and 5 are positives between agreeing negatives; nothing flags them without a net
    expect(c.errors).toBe(2);
    expect(c.missedByNet).toBe(2);
    expect(c.fnr).toBeCloseTo(2 / 3);
  });

  it('judges each error by a net built without it, and narrower margins catch more at the cost of more flags', () => {
    const nets = netCandidates(truth, scores, held, { fnr: 0.01, fpr: 0.01 });
    expect(nets.map((n) => n.margin)).toEqual([...NET_MARGINS]);
    const wide = nets[0]!; // margin 0.5: anchor min(0.7 held-out positive, 0.3 and 0.8 errors) -> cLow 0.15
    expect(wide.cLow).toBeCloseTo(0.15);
    // frame 5 (0.3) without itself: anchor min(0.7, 0.8) = 0.7 -> cLow 0.35 misses it; frame 2 (0.8) is caught
    expect(wide.errors).toBe(2);
    expect(wide.missed).toBe(1);
    const narrow = nets.find((n) => n.margin === 0.25)!; // 0.7 x 0.25 = 0.175 <= 0.3: caught
    expect(narrow.missed).toBe(0);
    expect(narrow.fnr).toBe(0);
    expect(nets.at(-1)!.flagged).toBeGreaterThanOrEqual(wide.flagged);
    // no negatives inside positive gaps and held-out negatives at most 0.1: cHigh = 1 - 0.5 x 0.9
    expect(wide.cHigh).toBeCloseTo(0.55);
  });
});

describe('difference detector and frame skip', () => {
  it('sets the threshold below every distance at which the answer changed', () => {
    const c = calibrateDifference([0.001, 0.002, 0.05, 0.003, 0.04], [false, false, true, false, true]);
    expect(c.threshold).toBeCloseTo(0.02);
    expect(c.errors).toBe(0);
    expect(c.hitRate).toBeCloseTo(0.6);
  });

  it('charges a skip for the changes the sample saw', () => {
    expect(skipErrorRate(10, 1000, 1)).toBe(0);
    expect(skipErrorRate(9, 1000, 3)).toBeCloseTo(0.01);
  });
});
