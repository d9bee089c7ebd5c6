import { describe, expect, it } from 'vitest';
import { bindQuery, BoundPredicate, extractFrameBounds, toFrameRange, UNBOUNDED, type FrameBounds } from '../../src/binder/index.js';
import { parseQuery } from '../../src/language/index.js';
import { fakeContext } from './fake-context.js';

function bounds(where: string): FrameBounds {
  return bindQuery(parseQuery(`SELECT timestamp FROM traffic WHERE ${where}`), fakeContext()).bounds;
}

const INF = Infinity;

describe('extractFrameBounds', () => {
  it.each<[string, [number, number], [number, number], boolean?]>([
    ["class = 'car'", [0, INF], [0, INF]],
    ['timestamp BETWEEN 60 AND 120', [0, INF], [60, 120]],
    ['timestamp >= 60 AND timestamp < 120', [0, INF], [60, 120]],
    ['60 <= timestamp AND 120 > timestamp', [0, INF], [60, 120]],
    ['frame >= 300', [300, INF], [0, INF]],
    ['frame > 300', [301, INF], [0, INF]],
    ['frame > 300.5', [301, INF], [0, INF]],
    ['frame < 100', [0, 99], [0, INF]],
    ['frame < 99.5', [0, 99], [0, INF]],
    ['frame <= 99.5', [0, 99], [0, INF]],
    ['frame = 42', [42, 42], [0, INF]],
    ['frame BETWEEN 10.5 AND 20.5', [11, 20], [0, INF]],
    ['frame IN (5, 9, 7)', [5, 9], [0, INF]],
    ['timestamp IN (1.5, 0.5)', [0, INF], [0.5, 1.5]],
    ['frame > 10 * 30', [301, INF], [0, INF]],
    ["class = 'car' AND frame >= 100 AND timestamp <= 30 AND score > 0.5", [100, INF], [0, 30]],
    ['frame BETWEEN 10 AND 20 OR frame BETWEEN 50 AND 60', [10, 60], [0, INF]],
    ["frame BETWEEN 10 AND 20 OR class = 'car'", [0, INF], [0, INF]],
    ['timestamp < 10 AND (frame > 5 AND frame < 8)', [6, 7], [0, 10]],
    ['timestamp > -5', [0, INF], [0, INF]],
    ['NOT frame < 100', [0, INF], [0, INF]],
    ['frame NOT BETWEEN 10 AND 20', [0, INF], [0, INF]],
    ['frame != 3', [0, INF], [0, INF]],
    ['frame + 1 > 10', [0, INF], [0, INF]],
    ['timestamp * 2 > 10', [0, INF], [0, INF]],
  ])('%s', (where, frames, seconds) => {
    expect(bounds(where)).toEqual({ frames: { min: frames[0], max: frames[1] }, seconds: { min: seconds[0], max: seconds[1] }, empty: false });
  });

  it.each(['frame > 10 AND frame < 5', 'timestamp < -1', '1 = 2', 'frame = 2.5', 'frame IN (0.5)', 'timestamp BETWEEN 5 AND 4'])('%s is empty', (where) => {
    expect(bounds(where).empty).toBe(true);
  });

  it('leaves queries without WHERE unbounded', () => {
    expect(bindQuery(parseQuery('SELECT * FROM traffic'), fakeContext()).bounds).toEqual(UNBOUNDED);
    expect(extractFrameBounds(BoundPredicate.constant(true))).toEqual(UNBOUNDED);
  });
});

describe('toFrameRange', () => {
  const video = { fps: 25, frameCount: 1190 };
  it('turns seconds into frames with a frame of margin', () => {
    expect(toFrameRange(bounds('timestamp BETWEEN 10 AND 20'), video)).toEqual({ start: 249, end: 502, step: 1 });
  });
  it('intersects frame and time bounds and clips to the video', () => {
    expect(toFrameRange(bounds('frame >= 300 AND timestamp < 20'), video)).toEqual({ start: 300, end: 502, step: 1 });
    expect(toFrameRange(bounds('frame >= 1000'), video)).toEqual({ start: 1000, end: 1190, step: 1 });
    expect(toFrameRange(bounds('frame BETWEEN 5000 AND 6000'), video)).toEqual({ start: 1190, end: 1190, step: 1 });
    expect(toFrameRange(UNBOUNDED, video)).toEqual({ start: 0, end: 1190, step: 1 });
  });
  it('gives an empty range for empty bounds', () => {
    expect(toFrameRange(bounds('frame < 0'), video)).toEqual({ start: 0, end: 0, step: 1 });
  });
});
