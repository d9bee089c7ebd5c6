/**
 * NoScope's difference detectors over low-resolution RGB frames: how far a frame is from a
 * reference (background) image or from an earlier frame. Distances are mean squared errors of
 * pixel values scaled to 0..1, so they do not depend on the frame size.
 */
export type DifferenceKind = 'global' | 'blocked';
export type DifferenceReference = 'earlier-frame' | 'background';

export interface DifferenceDetectorSpec {
  readonly kind: DifferenceKind;
  readonly reference: DifferenceReference;
  /** Blocks per side for `blocked` (the distance is the max over grid x grid blocks). */
  readonly grid: number;
}

/** Mean squared difference of two equal-size byte images, in (0..1)^2 units. */
export function globalDistance(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  const n = a.length;
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return sum / (n * 65025);
}

/** The largest mean squared difference over a grid x grid tiling of the two RGB images. */
export function blockedDistance(a: Uint8Array, b: Uint8Array, width: number, height: number, grid: number): number {
  const sums = new Float64Array(grid * grid);
  const counts = new Float64Array(grid * grid);
  for (let y = 0; y < height; y++) {
    const by = Math.min(grid - 1, Math.floor((y * grid) / height));
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const bx = Math.min(grid - 1, Math.floor((x * grid) / width));
      const i = row + x * 3;
      const d0 = a[i]! - b[i]!;
      const d1 = a[i + 1]! - b[i + 1]!;
      const d2 = a[i + 2]! - b[i + 2]!;
      const cell = by * grid + bx;
      sums[cell]! += d0 * d0 + d1 * d1 + d2 * d2;
      counts[cell]! += 3;
    }
  }
  let max = 0;
  for (let c = 0; c < sums.length; c++) max = Math.max(max, sums[c]! / (counts[c]! * 65025));
  return max;
}

export function distance(spec: DifferenceDetectorSpec, a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  return spec.kind === 'global' ? globalDistance(a, b) : blockedDistance(a, b, width, height, spec.grid);
}

/** Per-pixel median of a set of frames: the background image NoScope compares against. */
export function medianImage(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 0) throw new Error('medianImage needs at least one frame');
  const n = frames[0]!.length;
  const out = new Uint8Array(n);
  const histogram = new Uint32Array(256);
  const half = frames.length / 2;
  for (let i = 0; i < n; i++) {
    histogram.fill(0);
    for (const f of frames) histogram[f[i]!]!++;
    let acc = 0;
    let v = 0;
    for (; v < 256; v++) {
      acc += histogram[v]!;
      if (acc >= half) break;
    }
    out[i] = v;
  }
  return out;
}
