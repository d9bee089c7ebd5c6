import { describe, expect, it } from 'vitest';
import { calibrateDifference, calibrateInterpolation, calibrateNet, calibratePresence, decide, skipErrorRate } from '../../src/optimizer/calibration.js';

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
  it('measures leave-one-out errors and flags exactly what the net is calibrated on', () => {
    //           0  1  2  3  4  5  6  7
    const truth = [0, 0, 1, 0, 0, 1, 1, 1];
    const scores = [0.1, 0.1, 0.8, 0.2, 0.1, 0.9, 0.3, 0.9];
    const net = calibrateNet(truth, scores);
    // frame 2 is a positive between negatives (score 0.8); frame 6's neighbours disagree (5 and 7 agree: 1,1 -> no error)
    expect(net.cLow).toBeCloseTo(0.4);
    expect(net.cHigh).toBe(-1);
    const c = calibrateInterpolation(truth, scores, net);
    expect(c.errors).toBe(1);
    expect(c.missedByNet).toBe(0);
    expect(c.fnr).toBeGreaterThan(0);
    expect(c.fnrWithNet).toBe(0);
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
