import { describe, expect, it } from 'vitest';
import { bisectionLabels, calibrateBisection } from '../../src/optimizer/calibration.js';
import { disagreeingMiddles } from '../../src/operators/interpolate-operator.js';
import { ROUTE } from '../../src/operators/execution-context.js';

const runs = (...parts: [number, number][]) => Float32Array.from(parts.flatMap(([v, n]) => Array<number>(n).fill(v)));

describe('calibrateBisection', () => {
  it('makes no error when every stay is longer than the replay grid, and counts each change once per phase', () => {
    const truth = runs([0, 40], [1, 30], [0, 40]);
    const b = calibrateBisection(truth, 4);
    expect(b.errors).toBe(0);
    expect([b.fnr, b.fpr]).toEqual([0, 0]);
    // Two changes, each inside one disagreeing gap in each of the 4 phases.
    expect(b.changes).toBe(8);
    expect(b.positives + b.negatives).toBeGreaterThan(0);
  });

  it('misses a stay shorter than the replay grid between agreeing grid frames (a false negative)', () => {
    const truth = runs([0, 20], [1, 1], [0, 20]);
    const b = calibrateBisection(truth, 4);
    // The lone positive is a grid frame in one phase (seen) and interpolated over in the other three.
    expect(b.fnr).toBeCloseTo(3 / 3);
    expect(b.fpr).toBe(0);
    expect(b.errors).toBe(3);
  });

  it('finds one change of a gap holding three and interpolates over the others', () => {
    // Grid 0 and 4 disagree (0 vs 1); the middle (2) agrees with 0, so 1 is interpolated as 0: a miss.
    const b = calibrateBisection(Float32Array.from([0, 1, 0, 1, 1]), 4);
    expect(b.changes).toBe(1);
    expect(b.errors).toBe(1);
    expect(b.fnr).toBeCloseTo(1 / 2);
  });
});

describe('bisection at run time', () => {
  /** Labels a gap [0, step] with a change at `at` by repeated middles; returns the labels spent. */
  function bisect(step: number, at: number): number {
    const route = new Uint8Array(step + 1);
    const decision = new Int8Array(step + 1).fill(-1);
    route[0] = route[step] = ROUTE.labelled;
    decision[0] = 0;
    decision[step] = 1;
    let spent = 0;
    for (let mids = disagreeingMiddles(route, decision); mids.length > 0; mids = disagreeingMiddles(route, decision)) {
      for (const m of mids) {
        route[m] = ROUTE.labelled;
        decision[m] = m >= at ? 1 : 0;
        spent++;
      }
    }
    // Ends where the change lies between neighbouring labelled frames.
    expect(decision[at]).toBe(1);
    expect(decision[at - 1]).toBe(0);
    return spent;
  }

  it('locates a change in at most bisectionLabels(step) labels, wherever it lies', () => {
    for (const step of [2, 3, 9, 16, 146]) {
      let worst = 0;
      for (let at = 1; at <= step; at++) worst = Math.max(worst, bisect(step, at));
      expect(worst).toBeLessThanOrEqual(bisectionLabels(step));
      expect(worst).toBeGreaterThanOrEqual(bisectionLabels(step) - 1);
    }
  });

  it('asks only for the middles of gaps whose labelled ends disagree', () => {
    const route = Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1]);
    const decision = Int8Array.from([0, -1, -1, -1, 0, -1, -1, 1, 1, -1, 0]);
    expect(disagreeingMiddles(route, decision)).toEqual([5, 9]);
  });
});
