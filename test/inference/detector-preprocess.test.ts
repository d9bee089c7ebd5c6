import { describe, expect, it } from 'vitest';
import { familyRounding, letterboxGeometry, roundHalfEven, writeLetterboxed } from '../../src/inference/detector-preprocess.js';
import { resizeLinearRgb } from '../../src/inference/linear-resize.js';

describe('writeLetterboxed', () => {
  // A 2x1 frame: red-ish then blue-ish pixel, into a 4x4 input.
  const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60]);

  it('writes planes in RGB order, scaled, at the centre; padding untouched', () => {
    const g = letterboxGeometry(2, 1, 4, 4, 'center'); // 4x2 at padY 1 -> needs the 4x2 frame
    expect(g).toMatchObject({ width: 4, height: 2, padX: 0, padY: 1 });
    const frame = resizeLinearRgb(rgb, 2, 1, 4, 2);
    const t = new Float32Array(3 * 16).fill(-1);
    writeLetterboxed(t, frame, g, 'rgb', 1 / 255);
    expect(Array.from(t.subarray(0, 4))).toEqual([-1, -1, -1, -1]); // top padding row
    expect(t[4]).toBeCloseTo(10 / 255); // R plane, row 1, col 0
    expect(t[16 + 4]).toBeCloseTo(20 / 255); // G plane
    expect(t[32 + 4]).toBeCloseTo(30 / 255); // B plane
    expect(t[32 + 7]).toBeCloseTo(60 / 255);
    expect(Array.from(t.subarray(12, 16))).toEqual([-1, -1, -1, -1]); // bottom padding row
  });

  it('swaps to BGR and anchors top-left', () => {
    const g = letterboxGeometry(2, 1, 4, 4, 'top-left');
    const frame = resizeLinearRgb(rgb, 2, 1, 4, 2);
    const t = new Float32Array(3 * 16).fill(114);
    writeLetterboxed(t, frame, g, 'bgr', 1);
    expect([t[0], t[16], t[32]]).toEqual([30, 20, 10]);
    expect(t[8]).toBe(114);
  });
});

describe('letterboxGeometry rounding', () => {
  it('rounds as each project does: Ultralytics ties to even (Python round), YOLOX truncates', () => {
    expect([roundHalfEven(2.5), roundHalfEven(3.5), roundHalfEven(-0.5), roundHalfEven(2.4), roundHalfEven(-0.1)]).toEqual([2, 4, 0, 2, 0]);
    // 5x10 into 5x5: r = 0.5, width 2.5 -> 2 (Python round), not 3 (Math.round).
    expect(letterboxGeometry(5, 10, 5, 5, 'center', 'half-even')).toMatchObject({ width: 2, height: 5, padX: 1 });
    // The grocery clip, 890x646: Ultralytics 640x465 (464.54 rounds up), YOLOX 416x301 (301.95 truncated).
    expect(letterboxGeometry(890, 646, 640, 640, 'center', familyRounding('ultralytics'))).toMatchObject({ width: 640, height: 465, padY: 87 });
    expect(letterboxGeometry(890, 646, 416, 416, 'top-left', familyRounding('yolox'))).toMatchObject({ width: 416, height: 301, padY: 0 });
  });
});
