import { describe, expect, it } from 'vitest';
import { letterboxGeometry, resizeBilinearRgb, writeLetterboxed } from '../../src/inference/detector-preprocess.js';

describe('writeLetterboxed', () => {
  // A 2x1 frame: red-ish then blue-ish pixel, into a 4x4 input.
  const rgb = Uint8Array.from([10, 20, 30, 40, 50, 60]);

  it('writes planes in RGB order, scaled, at the centre; padding untouched', () => {
    const g = letterboxGeometry(2, 1, 4, 4, 'center'); // 4x2 at padY 1 -> needs the 4x2 frame
    expect(g).toMatchObject({ width: 4, height: 2, padX: 0, padY: 1 });
    const frame = new Uint8Array(4 * 2 * 3);
    resizeBilinearRgb(rgb, 2, 1, frame, 4, 2);
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
    const frame = new Uint8Array(4 * 2 * 3);
    resizeBilinearRgb(rgb, 2, 1, frame, 4, 2);
    const t = new Float32Array(3 * 16).fill(114);
    writeLetterboxed(t, frame, g, 'bgr', 1);
    expect([t[0], t[16], t[32]]).toEqual([30, 20, 10]);
    expect(t[8]).toBe(114);
  });
});

describe('resizeBilinearRgb', () => {
  it('keeps a flat image flat', () => {
    const src = new Uint8Array(5 * 3 * 3).fill(77);
    const dst = new Uint8Array(8 * 7 * 3);
    resizeBilinearRgb(src, 5, 3, dst, 8, 7);
    expect(dst.every((v) => v === 77)).toBe(true);
  });

  it('interpolates between pixel centres and clamps at the edges', () => {
    const src = Uint8Array.from([0, 0, 0, 100, 100, 100]); // 2x1
    const dst = new Uint8Array(4 * 3);
    resizeBilinearRgb(src, 2, 1, dst, 4, 1);
    expect(Array.from(dst.filter((_, i) => i % 3 === 0))).toEqual([0, 25, 75, 100]);
  });

  it('halves by averaging pixel pairs', () => {
    const src = Uint8Array.from([0, 0, 0, 100, 100, 100, 200, 200, 200, 50, 50, 50]); // 4x1
    const dst = new Uint8Array(2 * 3);
    resizeBilinearRgb(src, 4, 1, dst, 2, 1);
    expect([dst[0], dst[3]]).toEqual([50, 125]);
  });
});
