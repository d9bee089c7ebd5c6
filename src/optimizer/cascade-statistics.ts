/**
 * What the optimizer measured and decided for one cascade, stored with its trained model in the
 * catalog so the next run is warm (the stored JSON keeps these field names: older catalogs stay
 * warm), and the fixed choices every cascade shares.
 */
import type { BoundQuery } from '../binder/index.js';
import type { Architecture } from '../training/trainer.js';
import type { InterpolationCalibration, ModelDecision, PresenceThresholds } from './calibration.js';
import type { DifferenceChoice } from './difference-choice.js';

export type CascadeTask = 'presence' | 'count';

/** A specialized model's architecture with its square input size. */
export type CandidateArchitecture = Omit<Architecture, 'inputSize'> & { readonly inputSize: number };

/** The candidate architectures every cold cascade trains (NoScope's smallest two). */
export const ARCHITECTURES: readonly CandidateArchitecture[] = [
  { convBlocks: 2, baseFilters: 16, dense: 32, inputSize: 32 },
  { convBlocks: 3, baseFilters: 32, dense: 64, inputSize: 64 },
];

/** Blocks per side of the blocked difference detector. */
export const DIFFERENCE_GRID = 4;
/** Seed of training and of the count's random sample (mixed with the video id). */
export const CASCADE_SEED = 20261123;

/** Everything the optimizer decided, stored with the trained model so the next run is warm. */
export interface CascadeStatistics {
  readonly task: CascadeTask;
  readonly architecture: CandidateArchitecture;
  /** Every how many frames the training sample was taken, and its frames. */
  readonly sampleStep: number;
  readonly trainingFrames: readonly number[];
  readonly skip: number;
  readonly difference: DifferenceChoice | undefined;
  readonly thresholds: PresenceThresholds | undefined;
  /** Presence: answers between two agreeing labelled frames, and whether the model's net checks them. */
  readonly interpolation: (InterpolationCalibration & { readonly net: boolean; readonly bisect?: boolean }) | undefined;
  /** Presence: the model's own thresholds for the frames interpolation leaves (absent: those go to the reference). */
  readonly decide?: ModelDecision;
  /** Count: frames the stratified random sample drew (labelled for the estimate, not exact frames). */
  readonly estimationFrames: readonly number[];
  /** Presence: frames certification drew (absent in catalogs from before certification). */
  readonly verificationFrames?: readonly number[];
  readonly heldOut: Readonly<Record<string, number>>;
  readonly costs: Readonly<Record<string, number>>;
  readonly trainSeconds: number;
}

/** A cascade ready to run: its statistics and the specialized model (empty when none was trained). */
export interface StoredCascade {
  readonly statistics: CascadeStatistics;
  readonly onnx: Uint8Array;
}

/** The catalog key of a trained cascade. */
export interface CascadeKey {
  readonly videoId: number;
  readonly referenceModelId: number;
  readonly predicateKey: string;
  readonly kind: CascadeTask;
}

/**
 * The predicate key of a trained cascade: the task, the predicate, and for presence the FNR/FPR
 * targets its thresholds were calibrated for (a cascade calibrated for 0.05 does not promise
 * 0.001). A count's stored model is target-free: each run samples to its own interval.
 */
export function cascadeKey(task: CascadeTask, query: BoundQuery): string {
  const targets = task === 'presence' ? `:fnr=${query.accuracy.fnr}:fpr=${query.accuracy.fpr}` : '';
  return `${task}:${JSON.stringify(query.where)}${targets}`;
}

/** Whether the scan reads every frame: presence unless no model was trained (interpolation with bisection alone); a count only when its model beat block means. */
export function cascadeScans(statistics: CascadeStatistics): boolean {
  if (statistics.task === 'presence') return statistics.heldOut.specializedModel !== 0;
  return Number(statistics.heldOut.controlVariate ?? 1) > 0;
}
