import { describe, expect, it } from 'vitest';
import type { Detection } from '../../src/inference/detection.js';
import { decodeUltralytics, decodeYolox, iou, nonMaxSuppression, unletterbox } from '../../src/inference/detector-postprocess.js';
import { letterboxGeometry } from '../../src/inference/detector-preprocess.js';

const box = (classId: number, score: number, xmin: number, ymin: number, xmax: number, ymax: number): Detection => ({ classId, score, xmin, ymin, xmax, ymax });

/** A `[1, 4 + C, N]` tensor from per-anchor rows [cx, cy, w, h, ...probs]. */
function ultralyticsTensor(anchors: number[][]): Float32Array {
  const attrs = anchors[0]!.length;
  const t = new Float32Array(attrs * anchors.length);
  anchors.forEach((a, i) => a.forEach((v, r) => (t[r * anchors.length + i] = v)));
  return t;
}

describe('decodeUltralytics', () => {
  it('reads cx,cy,w,h rows and keeps each anchor’s best class above the threshold', () => {
    const t = ultralyticsTensor([
      [50, 40, 20, 10, 0.1, 0.9, 0.2],
      [10, 10, 4, 4, 0.3, 0.2, 0.1],
      [100, 60, 30, 50, 0.0, 0.55, 0.6],
      [0, 0, 0, 0, 0, 0, 0],
    ]);
    const out = decodeUltralytics(t, 3, 4, 0.5);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatchObject({ classId: 1, xmin: 40, ymin: 35, xmax: 60, ymax: 45 });
    expect(out[0]!.score).toBeCloseTo(0.9);
    expect(out[1]).toMatchObject({ classId: 2, xmin: 85, ymin: 35, xmax: 115, ymax: 85 });
    expect(decodeUltralytics(t, 3, 4, 0.25)).toHaveLength(3);
  });

  it('rejects a tensor of the wrong size', () => {
    expect(() => decodeUltralytics(new Float32Array(10), 3, 4, 0.5)).toThrow(/expected \(4 \+ 3\) x 4/);
  });
});

describe('decodeYolox', () => {
  // 64x64 input, strides 8/16/32: 8x8 + 4x4 + 2x2 = 84 cells of 5 + 2 values.
  const cells = 84;
  const attrs = 7;

  it('decodes a raw grid cell: offsets + grid times stride, exp sizes, score = obj x cls', () => {
    const t = new Float32Array(cells * attrs);
    const cell = 64 + 1 * 4 + 2; // stride 16, gy = 1, gx = 2
    t.set([0.5, 0.25, Math.log(2), 0, 0.8, 0.1, 0.9], cell * attrs);
    const weak = 5; // stride 8, obj 0.9 but class 0.3 -> score 0.27
    t.set([0, 0, 0, 0, 0.9, 0.3, 0.1], weak * attrs);
    const out = decodeYolox(t, 2, 64, 64, [8, 16, 32], 0.5);
    expect(out).toHaveLength(1);
    expect(out[0]!.classId).toBe(1);
    expect(out[0]!.score).toBeCloseTo(0.72, 5);
    expect(out[0]!.xmin).toBeCloseTo(24, 4); // cx = 2.5 * 16 = 40, w = 32
    expect(out[0]!.ymin).toBeCloseTo(12, 4); // cy = 1.25 * 16 = 20, h = 16
    expect(out[0]!.xmax).toBeCloseTo(56, 4);
    expect(out[0]!.ymax).toBeCloseTo(28, 4);
    expect(decodeYolox(t, 2, 64, 64, [8, 16, 32], 0.2)).toHaveLength(2);
  });

  it('places the last cell on the coarsest grid', () => {
    const t = new Float32Array(cells * attrs);
    t.set([0, 0, 0, 0, 1, 1, 0], (cells - 1) * attrs); // stride 32, gx = gy = 1
    expect(decodeYolox(t, 2, 64, 64, [8, 16, 32], 0.5)[0]).toMatchObject({ classId: 0, xmin: 16, ymin: 16, xmax: 48, ymax: 48 });
  });

  it('rejects a tensor whose cell count does not fit the grids', () => {
    expect(() => decodeYolox(new Float32Array((cells + 1) * attrs), 2, 64, 64, [8, 16, 32], 0.5)).toThrow(/expected 84 cells/);
    expect(() => decodeYolox(new Float32Array((cells - 1) * attrs), 2, 64, 64, [8, 16, 32], 0.5)).toThrow(/too few/);
  });
});

describe('nonMaxSuppression', () => {
  it('keeps the best of overlapping boxes of one class, and boxes of other classes', () => {
    const a = box(0, 0.9, 0, 0, 10, 10);
    const b = box(0, 0.8, 1, 0, 11, 10); // IoU with a = 90/110
    const c = box(1, 0.7, 1, 0, 11, 10); // same place, other class
    const d = box(0, 0.6, 20, 20, 30, 30);
    expect(nonMaxSuppression([d, b, c, a], 0.45)).toEqual([a, c, d]);
  });

  it('keeps a box whose IoU is exactly the threshold, drops one just over', () => {
    const a = box(0, 0.9, 0, 0, 10, 10);
    const half = box(0, 0.5, 0, 0, 10, 5); // IoU 0.5
    expect(nonMaxSuppression([a, half], 0.5)).toHaveLength(2);
    expect(nonMaxSuppression([a, half], 0.49)).toHaveLength(1);
  });

  it('stops at maxDetections, best first', () => {
    const many = Array.from({ length: 10 }, (_, i) => box(0, i / 10, i * 20, 0, i * 20 + 10, 10));
    expect(nonMaxSuppression(many, 0.45, 3).map((d) => d.score)).toEqual([0.9, 0.8, 0.7]);
  });

  it('iou of disjoint, nested and equal boxes', () => {
    expect(iou(box(0, 1, 0, 0, 1, 1), box(0, 1, 2, 2, 3, 3))).toBe(0);
    expect(iou(box(0, 1, 0, 0, 4, 4), box(0, 1, 1, 1, 3, 3))).toBeCloseTo(0.25);
    expect(iou(box(0, 1, 0, 0, 4, 4), box(0, 1, 0, 0, 4, 4))).toBe(1);
  });
});

describe('letterbox geometry and unletterbox', () => {
  it.each([
    // source, input, anchor -> content size and padding
    [640, 360, 640, 'center', { width: 640, height: 360, padX: 0, padY: 140 }],
    [640, 360, 640, 'top-left', { width: 640, height: 360, padX: 0, padY: 0 }],
    [768, 432, 416, 'top-left', { width: 416, height: 234, padX: 0, padY: 0 }],
    [768, 432, 320, 'center', { width: 320, height: 180, padX: 0, padY: 70 }],
    [320, 240, 640, 'center', { width: 640, height: 480, padX: 0, padY: 80 }],
    [360, 640, 640, 'center', { width: 360, height: 640, padX: 140, padY: 0 }],
    [100, 51, 64, 'center', { width: 64, height: 33, padX: 0, padY: 15 }],
  ] as const)('%ix%i into %i (%s)', (w, h, size, anchor, expected) => {
    expect(letterboxGeometry(w, h, size, size, anchor)).toMatchObject({ inputWidth: size, inputHeight: size, ...expected });
  });

  it('maps input-pixel boxes back to the source frame and clips them', () => {
    const g = letterboxGeometry(1280, 720, 640, 640, 'center'); // 640x360 at padY 140
    const [inside, clipped] = unletterbox([box(2, 0.9, 100, 240, 200, 340), box(2, 0.8, -10, 130, 50, 200)], g, 1280, 720);
    expect(inside).toEqual(box(2, 0.9, 200, 200, 400, 400));
    expect(clipped).toEqual(box(2, 0.8, 0, 0, 100, 120));
  });

  it('maps boxes back as Ultralytics scale_boxes does: padding recomputed from the gain, a pixel off the image\'s', () => {
    // 890x646 into 640: the image is 640x465 padded 87 on top, scale_boxes uses gain 640/890 and pad 88.
    const g = letterboxGeometry(890, 646, 640, 640, 'center');
    expect(g).toMatchObject({ height: 465, padY: 87, boxPadY: 88, boxPadX: 0 });
    const [b] = unletterbox([box(0, 0.9, 64, 88 + 64, 128, 88 + 128)], g, 890, 646);
    expect(b!.xmin).toBeCloseTo(89);
    expect(b!.ymin).toBeCloseTo(89);
    expect(b!.ymax).toBeCloseTo(178);
  });

  it('drops a box that lies wholly in the padding', () => {
    const g = letterboxGeometry(640, 360, 640, 640, 'center');
    expect(unletterbox([box(0, 0.9, 10, 10, 50, 100)], g, 640, 360)).toEqual([]);
  });
});
