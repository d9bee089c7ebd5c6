/**
 * What goes into the catalog (`...Info`) and what comes back out (`...Row`). Times are UTC
 * `Date`s; JSON columns hold any JSON-serialisable value and come back parsed.
 */
import type { Detection } from '../inference/detection.js';

/** A video file's probed facts, as given to {@link Catalog.registerVideo}. */
export interface VideoInfo {
  /** Where the file is now; stored as an absolute path. */
  readonly path: string;
  /** A catalog name to refer to the video by in queries; unique across videos. */
  readonly name?: string;
  /** SHA-256 of the file's bytes; computed with `hashFile(path)` when absent. */
  readonly contentHash?: string;
  /** File size; read from the file system when absent. */
  readonly sizeBytes?: number;
  readonly fps: number;
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  /** Seconds. */
  readonly duration: number;
  readonly codec: string;
  readonly variableFrameRate: boolean;
}

export interface VideoRow {
  readonly id: number;
  readonly name: string | null;
  readonly path: string;
  readonly contentHash: string;
  readonly sizeBytes: number;
  readonly fps: number;
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  readonly duration: number;
  readonly codec: string;
  readonly variableFrameRate: boolean;
  readonly addedAt: Date;
}

/** A reference detector, identified by its name and the SHA-256 of its weights. */
export interface ModelInfo {
  readonly name: string;
  readonly sha256: string;
  /**
   * How frames become the model's input, when it changes the labels (see {@link CURRENT_PREPROCESS});
   * labels are reused only under the same name, file and pre-processing. Default: the current one.
   */
  readonly preprocess?: string;
  readonly family: string;
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** Class names; a detection's `classId` indexes this list. */
  readonly labels: readonly string[];
}

export interface ModelRow extends ModelInfo {
  readonly id: number;
  readonly preprocess: string;
  readonly registeredAt: Date;
}

/** One frame the reference detector has looked at, with everything it found (maybe nothing). */
export interface LabelledFrame {
  /** 0-based frame index in decode order. */
  readonly frame: number;
  /** Presentation time in seconds. */
  readonly timestamp: number;
  readonly detections: readonly Detection[];
}

/** A half-open frame interval `[start, end)`; either bound may be left out. */
export interface FrameInterval {
  readonly start?: number;
  readonly end?: number;
}

export interface DetectionFilter extends FrameInterval {
  /** Only these classes; an empty list matches nothing. */
  readonly classIds?: readonly number[];
  /** Only detections with `score >= minScore`. */
  readonly minScore?: number;
}

/** A stored detection, with the frame it belongs to. */
export interface DetectionRow extends Detection {
  readonly frame: number;
  readonly timestamp: number;
}

export type QueryRunStatus = 'ok' | 'error';

/** One execution of a query, as given to {@link Catalog.recordQueryRun}. */
export interface QueryRunInfo {
  readonly query: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly videoId?: number | null;
  readonly modelId?: number | null;
  /** The physical plan, JSON-serialisable. */
  readonly plan?: unknown;
  readonly referenceCalls: number;
  readonly framesDecoded: number;
  readonly seconds: number;
  /** A summary of the answer (counts, accuracy achieved), JSON-serialisable. */
  readonly result?: unknown;
  readonly status: QueryRunStatus;
  /** The `SieveError` code when `status` is `'error'`. */
  readonly errorCode?: string | null;
  /** The id reserved by `Catalog.beginRun` (default: the active run's, else the next). */
  readonly id?: number;
  /** What the run reused from earlier runs (labels, models, index signals), JSON-serialisable. */
  readonly provenance?: unknown;
}

export interface QueryRunRow {
  readonly id: number;
  readonly query: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly videoId: number | null;
  readonly modelId: number | null;
  readonly plan: unknown;
  readonly referenceCalls: number;
  readonly framesDecoded: number;
  readonly seconds: number;
  readonly result: unknown;
  readonly status: QueryRunStatus;
  readonly errorCode: string | null;
  readonly provenance: unknown;
}

/** What identifies a specialized model: one per video, reference model, predicate and kind. */
export interface SpecializedModelKey {
  readonly videoId: number;
  readonly referenceModelId: number;
  /** A canonical text form of the predicate the model was trained for (e.g. `class=car`). */
  readonly predicateKey: string;
  /** What the model predicts (e.g. `binary`, `count`). */
  readonly kind: string;
}

export interface SpecializedModelInfo extends SpecializedModelKey {
  readonly architecture: unknown;
  /** The inference ONNX graph. */
  readonly onnx: Uint8Array;
  readonly manifest: unknown;
  readonly metrics: unknown;
}

export interface SpecializedModelRow extends SpecializedModelInfo {
  readonly id: number;
  readonly createdAt: Date;
  /** The run that trained it (null before schema version 4). */
  readonly runId: number | null;
}

/** A specialized model without its ONNX bytes, for listings. */
export interface SpecializedModelSummary extends SpecializedModelKey {
  readonly id: number;
  readonly architecture: unknown;
  readonly manifest: unknown;
  readonly metrics: unknown;
  readonly onnxBytes: number;
  readonly createdAt: Date;
  /** The run that trained it (null before schema version 4). */
  readonly runId: number | null;
}

/** One signal of a video's index: a class's count proxy on every frame, and the model that computed it. */
export interface IndexSignalInfo {
  readonly videoId: number;
  readonly referenceModelId: number;
  /** `count:<class name>`. */
  readonly signal: string;
  readonly classId: number;
  readonly architecture: unknown;
  readonly onnx: Uint8Array;
  /** The signal's value on frame f of the video at index f. */
  readonly values: Float32Array;
  /** How it was built: sample, training, held-out agreement, seconds. */
  readonly metrics: unknown;
}

export interface IndexSignalRow extends IndexSignalInfo {
  readonly createdAt: Date;
  /** The run that built it (null before schema version 4). */
  readonly runId: number | null;
}

/** What one cascade stage costs per frame, measured on one machine. */
export interface StageCostInfo {
  /** The stage's kind (e.g. `decode`, `difference`, `specialized`, `reference`). */
  readonly stageKind: string;
  /** What was measured within the kind (a model hash, an input size...). */
  readonly key: string;
  /** Which machine it was measured on. */
  readonly machine: string;
  readonly secondsPerFrame: number;
  /** Defaults to now. */
  readonly measuredAt?: Date;
}

export interface StageCostRow extends StageCostInfo {
  readonly measuredAt: Date;
}

/** The pre-processing this build labels with: the detector project's own, cv2.resize INTER_LINEAR letterbox. */
export const CURRENT_PREPROCESS = 'cv2-inter-linear';

/** A live watch's stored state: per input URL, reference model and predicate (with its targets). */
export interface StreamKey {
  readonly stream: string;
  readonly referenceModelId: number;
  readonly predicateKey: string;
}

/** Labels of a watch in the order they came: frame numbers, 0/1 labels, square RGB thumbnails. */
export interface StreamLabelChunk {
  readonly thumbSize: number;
  readonly frames: Int32Array;
  readonly labels: Uint8Array;
  readonly thumbs: Uint8Array;
}
