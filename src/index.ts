/** Sieve's public API. */
export { openEngine, Engine, type EngineOptions, type QueryOptions, type WatchOptions, type WatchEvent, type StatusEvent, type EndEvent, type AnswerEvent, type IntervalEvent, type WindowEvent, type FrameEvent, type StreamEvent, type WithoutReferenceEvent, type StoreErrorEvent, type VideoSummary, type LabelOptions, type LabelSummary, type IndexOptions, type IndexSummary, type RunListing, type RunDetail, type ReportOptions } from './engine.js';
export type { StoredAnswer, Provenance } from './runs/run-record.js';
export type { QueryResult, ResultRow, ResultValue, RunStats, StageStats, AccuracyReport, ProgressEvent } from './engine-types.js';
export type { DecidedAnswer } from './optimizer/certification-draw.js';
export { SieveError, QueryError, VideoError, ModelError, StorageError, InterruptedError, QUERY_ERROR_CODES, type ErrorCategory, type ErrorCode, type QueryErrorCode, type VideoErrorCode, type ModelErrorCode, type StorageErrorCode, type OtherErrorCode, type SourcePosition } from './errors.js';
export { parseQuery, formatQuery } from './language/index.js';
export { bindQuery, type BoundQuery, type BindContext } from './binder/index.js';
export { probeVideo, decodeFrames, type VideoInfo, type FrameBatch, type DecodeOptions } from './video/index.js';
export { ReferenceDetector, type ReferenceDetectorOptions } from './inference/reference-detector.js';
export { resolveModel, type ModelStoreOptions } from './inference/model-store.js';
export { builtinModelManifests, type ModelManifest } from './inference/model-manifest.js';
export { Catalog } from './storage/index.js';
