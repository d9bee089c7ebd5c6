/**
 * The index's counts corrected by the reference's own counts where the label store has them.
 * A count model's error on a fixed camera is correlated in time (the same crowd, the same
 * occlusions for seconds), so its residual (the reference's count minus the model's) at the
 * nearest labelled frames on either side, interpolated linearly in frame distance, is added to
 * its prediction on the frames between (the nearest one's beyond the first and last labelled
 * frames). The correction only reorders the frames the search verifies; no answer rests on it.
 */

/** A labelled frame and the reference's count of the class on it. */
export interface LabelledCount {
  readonly frame: number;
  readonly count: number;
}

/**
 * `values[i]` is the model's expected count on frame `start + i`; `labelled` ascending by frame
 * (any frames, inside the range or not). Returns the corrected counts (never below 0); the
 * labelled frames inside the range get the reference's count itself.
 */
export function correctCounts(values: ArrayLike<number>, start: number, labelled: readonly LabelledCount[], modelAt: (frame: number) => number): Float32Array {
  const n = values.length;
  const out = Float32Array.from(values);
  if (labelled.length === 0) return out;
  const residual = labelled.map((l) => l.count - modelAt(l.frame));
  let j = 0;
  for (let i = 0; i < n; i++) {
    const f = start + i;
    while (j < labelled.length && labelled[j]!.frame < f) j++;
    // labelled[j - 1] < f <= labelled[j]
    let r: number;
    if (j < labelled.length && labelled[j]!.frame === f) r = residual[j]!;
    else if (j === 0) r = residual[0]!;
    else if (j === labelled.length) r = residual[j - 1]!;
    else {
      const a = labelled[j - 1]!.frame;
      const b = labelled[j]!.frame;
      const w = (f - a) / (b - a);
      r = (1 - w) * residual[j - 1]! + w * residual[j]!;
    }
    out[i] = Math.max(0, Number(values[i]) + r);
  }
  return out;
}
