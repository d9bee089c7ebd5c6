/** Which frames a report draws: unit tests on stored answers, no video. */
import { describe, expect, it } from 'vitest';
import { chooseThumbnails } from '../../src/report/report.js';

const answer = (matched: [number, number][]) => ({ kind: 'frames' as const, matched, matchedFrames: matched.reduce((a, [s, e]) => a + e - s, 0) });

describe('chooseThumbnails', () => {
  it('takes matched frames the reference labelled first, then spreads the rest over every interval', () => {
    const got = chooseThumbnails(answer([[0, 10], [100, 200], [1000, 1001]]), Int32Array.from([5, 50, 150, 1000]), 6);
    expect(got.frames).toHaveLength(6);
    expect(got.frames).toEqual(expect.arrayContaining([5, 150, 1000])); // 50 is labelled but not matched
    expect(got.frames).not.toContain(50);
    for (const f of got.frames) expect((f >= 0 && f < 10) || (f >= 100 && f < 200) || f === 1000).toBe(true);
    expect(new Set(got.frames).size).toBe(6);
    expect(got.note).toBe('6 of 111 matched frames, sampled evenly over time, frames the reference labelled first');
  });

  it('samples evenly among labelled matched frames when they are more than it draws, and never lists a huge answer', () => {
    const labelled = Int32Array.from({ length: 1000 }, (_, i) => i * 100);
    const got = chooseThumbnails(answer([[0, 50_000_000]]), labelled, 4);
    expect(got.frames).toEqual([12_500, 37_500, 62_500, 87_500]);
  });

  it('shows frames the reference labelled when the answer has none, and nothing when there are none', () => {
    expect(chooseThumbnails({ kind: 'aggregate', matched: [], matchedFrames: 0 }, Int32Array.from([1, 2, 3]), 24).frames).toEqual([1, 2, 3]);
    expect(chooseThumbnails({ kind: 'aggregate', matched: [], matchedFrames: 0 }, new Int32Array(), 24).frames).toEqual([]);
  });
});
