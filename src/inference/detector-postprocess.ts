/** Detector output tensor -> detections: per-family decode, class-wise NMS, back to source pixels. */
import type { Detection } from './detection.js';
import type { LetterboxGeometry } from './detector-preprocess.js';

/**
 * Ultralytics v8/11 output `[1, 4 + C, N]`: rows 0-3 cx, cy, w, h (input pixels), rows 4.. class
 * probabilities. Each anchor keeps its best class. Boxes come back in input pixels.
 */
export function decodeUltralytics(output: Float32Array, numClasses: number, numAnchors: number, scoreThreshold: number): Detection[] {
  if (output.length !== (4 + numClasses) * numAnchors) {
    throw new RangeError(`ultralytics output has ${output.length} values, expected (4 + ${numClasses}) x ${numAnchors}`);
  }
  const best = new Float32Array(numAnchors);
  const bestClass = new Int32Array(numAnchors);
  // Row by row, so the 84 x N tensor is read in memory order.
  for (let c = 0; c < numClasses; c++) {
    const row = (4 + c) * numAnchors;
    for (let i = 0; i < numAnchors; i++) {
      const p = output[row + i]!;
      if (p > best[i]!) {
        best[i] = p;
        bestClass[i] = c;
      }
    }
  }
  const out: Detection[] = [];
  for (let i = 0; i < numAnchors; i++) {
    const score = best[i]!;
    if (score < scoreThreshold || score === 0) continue;
    const cx = output[i]!;
    const cy = output[numAnchors + i]!;
    const w = output[2 * numAnchors + i]!;
    const h = output[3 * numAnchors + i]!;
    out.push({ classId: bestClass[i]!, score, xmin: cx - w / 2, ymin: cy - h / 2, xmax: cx + w / 2, ymax: cy + h / 2 });
  }
  return out;
}

/**
 * YOLOX output `[1, N, 5 + C]`, raw over grids of `strides` (row-major cells, finest stride first):
 * cx = (x + gx)·s, cy = (y + gy)·s, w = e^w·s, h = e^h·s; score = objectness × best class
 * probability. Boxes come back in input pixels.
 */
export function decodeYolox(
  output: Float32Array,
  numClasses: number,
  inputWidth: number,
  inputHeight: number,
  strides: readonly number[],
  scoreThreshold: number,
): Detection[] {
  const attrs = 5 + numClasses;
  const out: Detection[] = [];
  let anchor = 0;
  for (const s of strides) {
    const gw = Math.ceil(inputWidth / s);
    const gh = Math.ceil(inputHeight / s);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, anchor++) {
        const o = anchor * attrs;
        if (o + attrs > output.length) throw new RangeError(`yolox output has ${output.length} values, too few for a ${inputWidth}x${inputHeight} input at strides ${strides.join('/')}`);
        const obj = output[o + 4]!;
        if (obj < scoreThreshold || obj === 0) continue; // score = obj × cls ≤ obj
        let cls = 0;
        let p = output[o + 5]!;
        for (let c = 1; c < numClasses; c++) {
          if (output[o + 5 + c]! > p) {
            p = output[o + 5 + c]!;
            cls = c;
          }
        }
        const score = obj * p;
        if (score < scoreThreshold || score === 0) continue;
        const cx = (output[o]! + gx) * s;
        const cy = (output[o + 1]! + gy) * s;
        const w = Math.exp(output[o + 2]!) * s;
        const h = Math.exp(output[o + 3]!) * s;
        out.push({ classId: cls, score, xmin: cx - w / 2, ymin: cy - h / 2, xmax: cx + w / 2, ymax: cy + h / 2 });
      }
    }
  }
  if (anchor * attrs !== output.length) {
    throw new RangeError(`yolox output has ${output.length} values, expected ${anchor} cells x ${attrs}`);
  }
  return out;
}

export function iou(a: Detection, b: Detection): number {
  const w = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin);
  const h = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy class-wise NMS: highest score first; drops a box overlapping a kept one of its class by more than `iouThreshold`. */
export function nonMaxSuppression(detections: readonly Detection[], iouThreshold: number, maxDetections = 300): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.every((k) => k.classId !== d.classId || iou(k, d) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/**
 * Input-pixel boxes -> source-frame pixels as the detector's own project maps them (see
 * {@link LetterboxGeometry.gain}), clipped to the frame; drops boxes left empty.
 */
export function unletterbox(detections: readonly Detection[], g: LetterboxGeometry, sourceWidth: number, sourceHeight: number): Detection[] {
  const out: Detection[] = [];
  for (const d of detections) {
    const xmin = clamp((d.xmin - g.boxPadX) / g.gain, sourceWidth);
    const xmax = clamp((d.xmax - g.boxPadX) / g.gain, sourceWidth);
    const ymin = clamp((d.ymin - g.boxPadY) / g.gain, sourceHeight);
    const ymax = clamp((d.ymax - g.boxPadY) / g.gain, sourceHeight);
    if (xmax > xmin && ymax > ymin) out.push({ classId: d.classId, score: d.score, xmin, ymin, xmax, ymax });
  }
  return out;
}

function clamp(v: number, max: number): number {
  return v < 0 ? 0 : v > max ? max : v;
}
