/** Frame lists and searches over per-frame timestamps. */

/** First index whose value is >= x. */
export function lowerBound(values: Float64Array, x: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The frames start, start + step, ... below end. */
export function frameList(start: number, end: number, step = 1): Int32Array {
  const n = Math.max(0, Math.ceil((end - start) / step));
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = start + i * step;
  return out;
}
