import { describe, expect, it } from 'vitest';
import { Prng } from '../language/prng.js';
import { MAX_TERMS, planRead, segmentFrames, selectExpression, type FrameSet } from '../../src/video/read-plan.js';

/** A seeded list of `n` distinct ascending frames below `max`. */
function randomFrames(n: number, max: number, seed: number): Int32Array {
  const prng = new Prng(seed);
  const set = new Set<number>();
  while (set.size < n) set.add(prng.int(max));
  return Int32Array.from([...set].sort((a, b) => a - b));
}

const outputs = (set: FrameSet, seekGap?: number) => planRead(set, { seekGap }).flatMap((seg) => [...segmentFrames(seg)]);

describe('planRead', () => {
  it('keeps a regular sample exact in one term, whatever its length', () => {
    const frames = Int32Array.from({ length: 500 }, (_, i) => 7 + 144 * i);
    const [seg, ...rest] = planRead({ kind: 'list', frames });
    expect(rest).toEqual([]);
    expect(seg!.terms).toEqual([{ lo: 7, hi: 7 + 144 * 499, step: 144 }]);
    expect(outputs({ kind: 'list', frames })).toEqual([...frames]);
    expect(selectExpression(seg!)).toBe('between(n\\,7\\,71863)*not(mod(n-7\\,144))');
  });

  it.each([10, 199, 2_000, 20_000])('covers %i random frames of a 2-hour video with at most MAX_TERMS terms and a bounded expression', (n) => {
    const frames = randomFrames(n, 72_000, n);
    const segments = planRead({ kind: 'list', frames });
    expect(segments).toHaveLength(1);
    expect(segments[0]!.terms.length).toBeLessThanOrEqual(MAX_TERMS);
    expect(selectExpression(segments[0]!).length).toBeLessThan(MAX_TERMS * 60);
    const out = new Set(outputs({ kind: 'list', frames }));
    for (const f of frames) expect(out.has(f)).toBe(true);
    expect(segments[0]!.outputCount).toBe(out.size);
  });

  it('splits into keyframe seeks only where the gap exceeds seekGap, each expression counted from its first frame', () => {
    const frames = Int32Array.from([5, 6, 7, 10_000, 10_001, 50_000]);
    const segments = planRead({ kind: 'list', frames }, { seekGap: 1_000 });
    expect(segments.map((s) => [s.first, s.seek])).toEqual([[5, false], [10_000, true], [50_000, true]]);
    expect(selectExpression(segments[1]!)).toBe('between(n\\,0\\,1)');
    expect(outputs({ kind: 'list', frames }, 1_000)).toEqual([...frames]);
    // Never seeking reads the same frames in one process.
    expect(planRead({ kind: 'list', frames })).toHaveLength(1);
  });

  it('leaves out a grid decoded earlier, inside ranges and covers alike', () => {
    const skip = { start: 100, step: 6 };
    const range = outputs({ kind: 'range', start: 100, end: 200, step: 1, skip });
    expect(range.length).toBe(100 - 17);
    expect(range.some((f) => (f - 100) % 6 === 0)).toBe(false);
    const [seg] = planRead({ kind: 'range', start: 100, end: 200, step: 5, skip });
    expect(selectExpression(seg!)).toBe('between(n\\,100\\,195)*not(mod(n-100\\,5))*gt(mod(n-100\\,6)\\,0)');
    const frames = randomFrames(3_000, 20_000, 3).filter((f) => (f - 100) % 6 !== 0);
    const covered = outputs({ kind: 'list', frames: Int32Array.from(frames), skip });
    expect(covered.some((f) => f >= 100 && (f - 100) % 6 === 0)).toBe(false);
  });

  it('rejects frames out of order and returns nothing for an empty set', () => {
    expect(() => planRead({ kind: 'list', frames: Int32Array.from([3, 2]) })).toThrow(/ascending/);
    expect(planRead({ kind: 'list', frames: new Int32Array(0) })).toEqual([]);
    expect(planRead({ kind: 'range', start: 10, end: 10, step: 1 })).toEqual([]);
  });
});
