/**
 * The catalog and label store: one DuckDB file with videos, reference models, labels,
 * specialized models, stage costs and query runs. Nothing outside this folder imports DuckDB.
 */
export { Catalog, type WriteLabelsResult } from './catalog.js';
export type {
  DetectionFilter,
  DetectionRow,
  FrameInterval,
  LabelledFrame,
  ModelInfo,
  ModelRow,
  QueryRunInfo,
  QueryRunRow,
  QueryRunStatus,
  SpecializedModelInfo,
  SpecializedModelKey,
  SpecializedModelRow,
  SpecializedModelSummary,
  StageCostInfo,
  StageCostRow,
  StreamKey,
  StreamLabelChunk,
  VideoInfo,
  VideoRow,
} from './catalog-rows.js';
export { CURRENT_PREPROCESS } from './catalog-rows.js';
export { hashFile } from './hash-file.js';
export { SCHEMA_VERSION } from './schema.js';
