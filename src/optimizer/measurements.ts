/** What the measuring steps of a cold cascade found, for the optimizer's next pass. */
import type { Candidate } from '../training/cascade-calibration.js';

export interface SampleMeasurement {
  readonly step: number;
  /** The sample's frames (every `step`-th of the range). */
  readonly frames: Int32Array;
  /** The reference's value of each frame labelled so far (presence 1/0, or the count). */
  readonly truth: Map<number, number>;
  /** Each candidate size's thumbnails of the sample frames, in sample order. */
  readonly thumbnails: Map<number, Uint8Array>;
  /** Only a count's pilot third is labelled so far. */
  pilotOnly: boolean;
  /** Reference seconds per frame measured while labelling it (decode included). */
  referenceSeconds: number | undefined;
  /** Reference calls this query made so far. */
  referenceCalls: number;
}

export interface TrainingMeasurement {
  readonly candidates: readonly Candidate[];
  readonly trainIdx: readonly number[];
  readonly estimationIdx: readonly number[];
  readonly seconds: number;
}

export interface Measurements {
  sample?: SampleMeasurement;
  training?: TrainingMeasurement;
}
