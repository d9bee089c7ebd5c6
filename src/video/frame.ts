/**
 * A batch of decoded frames, packed RGB (HWC, 8 bits per channel), `count` frames of
 * `width x height` back to back in `data`.
 */
export interface FrameBatch {
  readonly width: number;
  readonly height: number;
  /** Number of frames in the batch. */
  readonly count: number;
  /** Frame index (0-based, in decode order of the whole video) of each frame. */
  readonly frames: Int32Array;
  /** Presentation time in seconds of each frame, from the container. */
  readonly timestamps: Float64Array;
  /** count * height * width * 3 bytes. */
  readonly data: Uint8Array;
}

/** One frame's RGB pixels as a view into a batch (no copy). */
export function frameView(batch: FrameBatch, i: number): Uint8Array {
  const size = batch.width * batch.height * 3;
  return batch.data.subarray(i * size, (i + 1) * size);
}

/** A half-open range of frame indices [start, end) visited every `step` frames. */
export interface FrameRange {
  readonly start: number;
  readonly end: number;
  readonly step: number;
}
