import type { FrameBounds } from '../binder/index.js';

/**
 * The frames a query must look at: those inside the bound's frame interval whose exact container
 * timestamp lies inside its seconds interval (timestamps ascend, so this is one contiguous range).
 */
export function framesInBounds(bounds: FrameBounds, timestamps: Float64Array): { start: number; end: number } {
  if (bounds.empty || timestamps.length === 0) return { start: 0, end: 0 };
  let start = Math.max(0, Math.ceil(bounds.frames.min));
  let end = Math.min(timestamps.length, bounds.frames.max === Infinity ? timestamps.length : Math.floor(bounds.frames.max) + 1);
  const eps = 1e-9;
  start = Math.max(start, lowerBound(timestamps, bounds.seconds.min - eps));
  if (Number.isFinite(bounds.seconds.max)) end = Math.min(end, lowerBound(timestamps, bounds.seconds.max + eps));
  return end > start ? { start, end } : { start: 0, end: 0 };
}

/** First index whose value is >= x. */
function lowerBound(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function frameList(start: number, end: number, step = 1): Int32Array {
  const n = Math.max(0, Math.ceil((end - start) / step));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}
