/** The index's sample and signal names: what the optimizer reads about an index without building one. */
import { sampleStep } from '../optimizer/cascade-search.js';
import { frameList } from '../video/frame-range.js';

/** The signal name of a class's count proxy. */
export const countSignal = (label: string) => `count:${label}`;

/** The sample of the index: the cascades' evenly spaced sample of the whole video (their later samples are read from the store). */
export function indexSample(frameCount: number): { step: number; frames: Int32Array } {
  const step = sampleStep(frameCount);
  return { step, frames: frameList(0, frameCount, step) };
}
