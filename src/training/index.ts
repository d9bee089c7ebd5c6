/**
 * Specialized models trained inside ONNX Runtime: the training-graph builder, the trainer, export
 * and NoScope's architecture search.
 */
export { measureInferenceCost, NOSCOPE_SEARCH_SPACE, searchArchitectures, type ArchitectureResult, type SearchOptions } from './architecture-search.js';
export { exportModel, type ExportInfo, type FrameSpan, type SpecializedModelManifest, type TrainingProvenance } from './model-export.js';
export { dropoutMaskName, initParams, planNetwork, type LayerSpec, type LossKind, type NetworkPlan, type NetworkSpec, type Normalization, type ParamInfo } from './network.js';
export {
  noScopeLayers,
  taskOutputs,
  timeSplit,
  trainModel,
  type Architecture,
  type EvaluationMetrics,
  type SplitOptions,
  type TrainedModel,
  type TrainingData,
  type TrainingMetrics,
  type TrainingProgress,
  type TrainingTiming,
  type TrainingTask,
  type TrainOptions,
} from './trainer.js';
export { buildGradientGraph, buildInferenceGraph, buildTrainingGraph, headOutput, IO, type OptimizerSpec } from './training-graph.js';
