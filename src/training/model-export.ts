/**
 * Export of a trained specialized model: a plain inference ONNX graph with the weights baked in,
 * and the manifest that says how to feed it and where it came from. The manifest is also stored
 * in the graph's metadata under `sieve.manifest`.
 */
import type { NetworkSpec, Normalization } from './network.js';
import type { TrainingMetrics, TrainingTask } from './trainer.js';
import { buildInferenceGraph, headOutput, type OptimizerSpec } from './training-graph.js';
import { planNetwork } from './network.js';

/** Where the training data came from; filled in by the caller, copied into the manifest. */
export interface TrainingProvenance {
  /** Video path or catalog name. */
  readonly video?: string;
  /** The reference model whose detections were the labels (e.g. `yolo11n_int8dyn_640`). */
  readonly labelSource?: string;
  /** What was labelled (e.g. `class=car`, score threshold). */
  readonly target?: string;
  /** Every how many frames labels were taken. */
  readonly frameStep?: number;
}

/** Frames [start, end) of the video, `frames` of them labelled. */
export interface FrameSpan {
  readonly start: number;
  readonly end: number;
  readonly frames: number;
}

export interface SpecializedModelManifest {
  readonly format: 'sieve-specialized-model/1';
  readonly task: TrainingTask;
  /** uint8 RGB frames, NHWC, at exactly this size: feed decoded `FrameBatch.data` as is. */
  readonly input: { readonly name: 'frames'; readonly type: 'uint8'; readonly layout: 'NHWC'; readonly channels: 'RGB'; readonly width: number; readonly height: number };
  /** Applied inside the graph: (x - meanImage) * scale; the mean image is an initializer. */
  readonly normalization: { readonly kind: 'mean-image'; readonly scale: number };
  readonly output: { readonly name: string; readonly shape: readonly (number | string)[]; readonly meaning: string };
  readonly architecture: NetworkSpec;
  readonly parameterCount: number;
  readonly training: TrainingProvenance & {
    readonly seed: number;
    readonly optimizer: OptimizerSpec;
    readonly learningRate: number;
    readonly batchSize: number;
    /** Labelled frames used, and the spans of frames in each part of the time-block split. */
    readonly frames: { readonly count: number; readonly train: readonly FrameSpan[]; readonly validation: readonly FrameSpan[]; readonly test: readonly FrameSpan[] };
    readonly metrics: TrainingMetrics;
  };
}

export type ExportInfo = SpecializedModelManifest['training'] & { readonly task: TrainingTask };

const MEANING: Record<TrainingTask['kind'], string> = {
  presence: 'probability that the target is present in the frame',
  count: 'probability of each object count 0..maxCount (the last bucket is maxCount or more)',
  regression: 'predicted value',
};

/**
 * Builds the exported model: input `frames` (uint8 [N, H, W, 3] RGB), output `probability` [N]
 * (presence), `count_probabilities` [N, K+1] (counts) or `value` [N, D] (regression).
 *
 * @example
 * const { onnx, manifest } = exportModel(model.spec, model.normalization, model.params, info);
 * const session = await OnnxSession.create(onnx);
 */
export function exportModel(spec: NetworkSpec, normalization: Normalization, params: Float32Array, info: ExportInfo): { onnx: Uint8Array; manifest: SpecializedModelManifest } {
  const plan = planNetwork(spec);
  const { task, ...training } = info;
  const head = headOutput(plan);
  const manifest: SpecializedModelManifest = {
    format: 'sieve-specialized-model/1',
    task,
    input: { name: 'frames', type: 'uint8', layout: 'NHWC', channels: 'RGB', width: spec.width, height: spec.height },
    normalization: { kind: 'mean-image', scale: normalization.scale },
    output: { name: head.name, shape: head.dims, meaning: MEANING[task.kind] },
    architecture: spec,
    parameterCount: plan.paramCount,
    training,
  };
  const onnx = buildInferenceGraph(spec, normalization, params, { 'sieve.manifest': JSON.stringify(manifest) });
  return { onnx, manifest };
}
