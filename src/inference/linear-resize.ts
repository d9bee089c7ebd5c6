/**
 * `cv2.resize(src, (dw, dh), interpolation=cv2.INTER_LINEAR)` for packed 8-bit RGB, bit for bit: the
 * pre-processing Ultralytics and YOLOX run before their detectors, so the labels Sieve stores are the
 * ones those projects' own pipelines would give.
 *
 * OpenCV's 8-bit path (imgproc/src/resize.cpp): source positions at half-pixel centres,
 * `fx = float((dx + 0.5) * scale - 0.5)`; weights rounded to 11-bit fixed point (`saturate_cast<short>`
 * of `(1 - f) * 2048` and `f * 2048`); the horizontal pass keeps `S[x0] * a0 + S[x1] * a1` in int32;
 * columns left of 0 or right of the last clamp to the edge pixel; the vertical pass clamps rows and
 * rounds as its SIMD code does, `((b0 * (S0 >> 4)) >> 16) + ((b1 * (S1 >> 4)) >> 16) + 2) >> 2`.
 * An exact 2x reduction is OpenCV's fast area path: `(a + b + c + d + 2) >> 2`.
 */

import { WASM_BASE64 } from './kernels/linear-resize-wasm.js';

const COEF_SCALE = 2048;

/** Precomputed offsets and weights for one source size -> destination size. */
export interface LinearResizePlan {
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  readonly width: number;
  readonly height: number;
  /**
   * Per destination column: the two source byte offsets (x * 3) and their weights. Columns left of
   * the first source centre or right of the last take the edge pixel at full weight (second weight 0).
   */
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly alpha: Int32Array;
  /** Per destination row: the two source rows (clamped) and their weights. */
  readonly y0: Int32Array;
  readonly y1: Int32Array;
  readonly beta: Int32Array;
  /** OpenCV switches an exact 2x reduction to its fast area path. */
  readonly halve: boolean;
}

/** Nearest, ties to even: C's `lrint`, OpenCV's `cvRound`, Python 3's `round`. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  // `+ 0` turns -0 into 0.
  return (r - v === 0.5 && r % 2 !== 0 ? r - 1 : r) + 0;
}

function weights(f: number): [number, number] {
  const a0 = roundHalfEven(Math.fround(1 - f) * COEF_SCALE);
  const a1 = roundHalfEven(f * COEF_SCALE);
  return [a0, a1];
}

/** The source position of destination index `d`, as OpenCV computes it (double, then float). */
function sourcePosition(d: number, scale: number): { s: number; f: number } {
  const pos = Math.fround((d + 0.5) * scale - 0.5);
  const s = Math.floor(pos);
  return { s, f: Math.fround(pos - s) };
}

export function planLinearResize(sourceWidth: number, sourceHeight: number, width: number, height: number): LinearResizePlan {
  if (![sourceWidth, sourceHeight, width, height].every((v) => Number.isInteger(v) && v > 0)) {
    throw new RangeError(`resize sizes must be positive integers, got ${sourceWidth}x${sourceHeight} -> ${width}x${height}`);
  }
  // OpenCV: inv_scale = dsize / ssize; scale = 1 / inv_scale (both double).
  const scaleX = 1 / (width / sourceWidth);
  const scaleY = 1 / (height / sourceHeight);
  const x0 = new Int32Array(width);
  const x1 = new Int32Array(width);
  const alpha = new Int32Array(width * 2);
  for (let dx = 0; dx < width; dx++) {
    let { s, f } = sourcePosition(dx, scaleX);
    if (s < 0) {
      s = 0;
      f = 0;
    }
    // OpenCV's HResizeLinear: from the first column whose right neighbour is past the edge, S[x] * 2048.
    const edge = s + 1 >= sourceWidth;
    if (s >= sourceWidth - 1) {
      s = sourceWidth - 1;
      f = 0;
    }
    x0[dx] = s * 3;
    x1[dx] = edge ? s * 3 : (s + 1) * 3;
    [alpha[dx * 2], alpha[dx * 2 + 1]] = edge ? [COEF_SCALE, 0] : weights(f);
  }
  const y0 = new Int32Array(height);
  const y1 = new Int32Array(height);
  const beta = new Int32Array(height * 2);
  const clampRow = (r: number) => Math.min(Math.max(r, 0), sourceHeight - 1);
  for (let dy = 0; dy < height; dy++) {
    const { s, f } = sourcePosition(dy, scaleY);
    y0[dy] = clampRow(s);
    y1[dy] = clampRow(s + 1);
    [beta[dy * 2], beta[dy * 2 + 1]] = weights(f);
  }
  const halve = scaleX === 2 && scaleY === 2;
  return { sourceWidth, sourceHeight, width, height, x0, x1, alpha, y0, y1, beta, halve };
}

/** Reusable row buffers, so a batch of frames allocates nothing per frame. */
export class LinearResizer implements FrameResizer {
  readonly kind = 'js';
  private readonly rows: readonly Int32Array[];

  constructor(readonly plan: LinearResizePlan) {
    this.rows = [new Int32Array(plan.width * 3), new Int32Array(plan.width * 3)];
  }

  /** Resizes one packed RGB frame of the plan's source size into `dst` (the plan's size). */
  resize(src: Uint8Array, dst: Uint8Array): void {
    const p = this.plan;
    if (src.length < p.sourceWidth * p.sourceHeight * 3 || dst.length < p.width * p.height * 3) {
      throw new RangeError(`resize buffers too small for ${p.sourceWidth}x${p.sourceHeight} -> ${p.width}x${p.height}`);
    }
    if (p.halve) return halveRgb(src, p, dst);
    eachRowPair(
      p,
      (row, slot) => this.horizontal(src, row, this.rows[slot]!),
      (slot0, slot1, dy) => vertical(this.rows[slot0]!, this.rows[slot1]!, p.beta[dy * 2]!, p.beta[dy * 2 + 1]!, dst, dy * p.width * 3, p.width * 3),
    );
  }

  private horizontal(src: Uint8Array, row: number, out: Int32Array): void {
    const { x0, x1, alpha, width } = this.plan;
    const base = row * this.plan.sourceWidth * 3;
    for (let dx = 0, o = 0; dx < width; dx++, o += 3) {
      const s0 = base + x0[dx]!;
      const s1 = base + x1[dx]!;
      const a0 = alpha[2 * dx]!;
      const a1 = alpha[2 * dx + 1]!;
      out[o] = Math.imul(src[s0]!, a0) + Math.imul(src[s1]!, a1);
      out[o + 1] = Math.imul(src[s0 + 1]!, a0) + Math.imul(src[s1 + 1]!, a1);
      out[o + 2] = Math.imul(src[s0 + 2]!, a0) + Math.imul(src[s1 + 2]!, a1);
    }
  }
}

/** OpenCV's VResizeLinear<uchar, int, short>, whose SIMD and scalar code round alike; `uchar()` wraps, so does Uint8Array. */
/**
 * Drives the two passes: per destination row, makes sure its two source rows are filtered into
 * the two row slots (consecutive rows share source rows, so most are kept), then combines them.
 */
function eachRowPair(p: LinearResizePlan, filter: (row: number, slot: number) => void, combine: (slot0: number, slot1: number, dy: number) => void): void {
  const rowIndex = [-1, -1];
  const fill = (slot: number, row: number) => {
    filter(row, slot);
    rowIndex[slot] = row;
  };
  for (let dy = 0; dy < p.height; dy++) {
    const want0 = p.y0[dy]!;
    const want1 = p.y1[dy]!;
    let slot0 = rowIndex.indexOf(want0);
    let slot1 = rowIndex.indexOf(want1);
    if (slot0 < 0) fill((slot0 = slot1 === 0 ? 1 : 0), want0);
    if (slot1 < 0) fill((slot1 = 1 - slot0), want1);
    combine(slot0, slot1, dy);
  }
}

function vertical(s0: Int32Array, s1: Int32Array, b0: number, b1: number, dst: Uint8Array, offset: number, n: number): void {
  for (let x = 0; x < n; x++) dst[offset + x] = ((Math.imul(b0, s0[x]! >> 4) >> 16) + (Math.imul(b1, s1[x]! >> 4) >> 16) + 2) >> 2;
}

function halveRgb(src: Uint8Array, p: LinearResizePlan, dst: Uint8Array): void {
  const stride = p.sourceWidth * 3;
  for (let dy = 0; dy < p.height; dy++) {
    const r0 = dy * 2 * stride;
    const r1 = r0 + stride;
    const o = dy * p.width * 3;
    for (let dx = 0; dx < p.width; dx++) {
      for (let k = 0; k < 3; k++) {
        const s = dx * 6 + k;
        dst[o + dx * 3 + k] = (src[r0 + s]! + src[r0 + s + 3]! + src[r1 + s]! + src[r1 + s + 3]! + 2) >> 2;
      }
    }
  }
}

/** One-shot convenience: resizes `src` (sw x sh RGB) to a new dw x dh buffer. */
export function resizeLinearRgb(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, prefer?: 'js'): Uint8Array {
  const out = new Uint8Array(dw * dh * 3);
  createLinearResizer(planLinearResize(sw, sh, dw, dh), prefer).resize(src, out);
  return out;
}

/** A resizer for one plan: the WebAssembly SIMD kernel where the runtime has it, else {@link LinearResizer}. */
export interface FrameResizer {
  readonly plan: LinearResizePlan;
  readonly kind: 'wasm-simd' | 'js';
  resize(src: Uint8Array, dst: Uint8Array): void;
}

interface KernelExports {
  readonly memory: WebAssembly.Memory;
  horizontal(row: number, x0: number, x1: number, alpha: number, width: number, out: number): void;
  vertical(s0: number, s1: number, b0: number, b1: number, dst: number, n: number): void;
}

let kernel: WebAssembly.Module | null | undefined;

/** The compiled kernel, or `null` where WebAssembly SIMD is missing (the JS resizer is used then). */
function kernelModule(): WebAssembly.Module | null {
  if (kernel === undefined) {
    const bytes = Buffer.from(WASM_BASE64, 'base64');
    kernel = typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return kernel;
}

/** The same arithmetic as {@link LinearResizer}, in `kernels/linear-resize.wat` (about 3x faster). */
class WasmLinearResizer implements FrameResizer {
  readonly kind = 'wasm-simd';
  private readonly k: KernelExports;
  private readonly at: { x0: number; x1: number; alpha: number; rows: [number, number]; src: number; dst: number };

  constructor(readonly plan: LinearResizePlan, module: WebAssembly.Module) {
    this.k = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    const { width: dw, height: dh, sourceWidth: sw, sourceHeight: sh } = plan;
    let end = 0;
    // Every buffer keeps 16 bytes of slack: the kernel moves pixels as 4-lane vectors.
    const take = (bytes: number) => {
      const p = end;
      end = (end + bytes + 16 + 15) & ~15;
      return p;
    };
    this.at = { x0: take(dw * 4), x1: take(dw * 4), alpha: take(dw * 8), rows: [take(dw * 12), take(dw * 12)], src: take(sw * sh * 3), dst: take(dw * dh * 3) };
    const pages = Math.ceil(end / 65536) - this.k.memory.buffer.byteLength / 65536;
    if (pages > 0) this.k.memory.grow(pages);
    const buffer = this.k.memory.buffer;
    new Int32Array(buffer, this.at.x0, dw).set(plan.x0);
    new Int32Array(buffer, this.at.x1, dw).set(plan.x1);
    new Int32Array(buffer, this.at.alpha, dw * 2).set(plan.alpha);
  }

  resize(src: Uint8Array, dst: Uint8Array): void {
    const p = this.plan;
    const { k, at } = this;
    const srcBytes = p.sourceWidth * p.sourceHeight * 3;
    const dstBytes = p.width * p.height * 3;
    if (src.length < srcBytes || dst.length < dstBytes) {
      throw new RangeError(`resize buffers too small for ${p.sourceWidth}x${p.sourceHeight} -> ${p.width}x${p.height}`);
    }
    const memory = new Uint8Array(k.memory.buffer);
    memory.set(src.subarray(0, srcBytes), at.src);
    if (p.halve) {
      // Rare (an exact 2x reduction): the JS path, on the copy already in memory.
      halveRgb(memory.subarray(at.src, at.src + srcBytes), p, dst);
      return;
    }
    const rowBytes = p.sourceWidth * 3;
    eachRowPair(
      p,
      (row, slot) => k.horizontal(at.src + row * rowBytes, at.x0, at.x1, at.alpha, p.width, at.rows[slot]!),
      (slot0, slot1, dy) => k.vertical(at.rows[slot0]!, at.rows[slot1]!, p.beta[dy * 2]!, p.beta[dy * 2 + 1]!, at.dst + dy * p.width * 3, p.width * 3),
    );
    dst.set(memory.subarray(at.dst, at.dst + dstBytes));
  }
}

/** The fastest exact resizer this runtime offers for `plan` (`prefer: 'js'` forces the portable one). */
export function createLinearResizer(plan: LinearResizePlan, prefer?: 'js'): FrameResizer {
  const module = prefer === 'js' ? null : kernelModule();
  return module ? new WasmLinearResizer(plan, module) : new LinearResizer(plan);
}
