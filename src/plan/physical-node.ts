/**
 * The physical plan: one frozen node per stage the engine can run, with same-name factories
 * (Kysely's operation nodes). Node kind, operator file, cost key and EXPLAIN label agree:
 * `Decode` runs in `operators/decode-operator.ts`, and so on. Measuring steps (`LabelSample`,
 * `TrainCandidates`, under `Calibrate`) are nodes too: EXPLAIN before a cold run shows them.
 */
import type { BoundQuery } from '../binder/index.js';
import type { ModelDecision, PresenceThresholds } from '../optimizer/calibration.js';
import type { CandidateArchitecture, CascadeTask } from '../optimizer/cascade-statistics.js';
import type { Considered } from '../optimizer/cascade-search.js';
import type { DifferenceChoice } from '../optimizer/difference-choice.js';
import type { LogicalNode } from './logical-node.js';

/** A stage's cost: seconds per frame, and whether it was measured on this machine or assumed. */
export interface StageCost {
  readonly secondsPerFrame: number | undefined;
  readonly assumed: boolean;
}

/** Reference labels for frames: from the label store, else the detector (which decodes what it needs). */
export interface ReferenceScanNode {
  readonly kind: 'ReferenceScan';
  /** `all`: every frame in range (exact); `uncertain`: the frames the cheap stages left undecided. */
  readonly role: 'all' | 'uncertain';
  readonly model: string;
  readonly video: string;
  readonly path: string;
  readonly range: { readonly start: number; readonly end: number };
  readonly labelled: number;
  readonly cost: StageCost;
  readonly input: InterpolateNode | undefined;
}

/** Frames of the range decoded at a specialized model's size (the frame skip pushed down into ffmpeg). */
export interface DecodeNode {
  readonly kind: 'Decode';
  readonly path: string;
  readonly size: number;
  /** Every `step`-th frame (presence: the frame skip). */
  readonly step: number;
  /**
   * Presence with a frame skip may decode with -skip_frame noref (frames no other frame refers to
   * are never decoded), where measured on this file it is cheaper and keeps no gap wider than the skip.
   */
  readonly reducible: boolean;
  readonly cost: StageCost;
}

export interface FrameSkipNode {
  readonly kind: 'FrameSkip';
  readonly skip: number;
  readonly input: DecodeNode;
}

/** The difference detector, when the optimizer measured one worth its cost (`choice.enabled`); else frames pass through. */
export interface DifferenceFilterNode {
  readonly kind: 'DifferenceFilter';
  readonly choice: DifferenceChoice | undefined;
  readonly input: FrameSkipNode;
}

/** The specialized model: presence scores as a safety net over interpolation, or a count as control variate. */
export interface SpecializedScoreNode {
  readonly kind: 'SpecializedScore';
  readonly task: CascadeTask;
  readonly architecture: CandidateArchitecture;
  readonly cost: StageCost;
  /** Held-out measurements, for EXPLAIN. */
  readonly heldOut: Readonly<Record<string, number>>;
  readonly input: DifferenceFilterNode | DecodeNode;
}

/**
 * Presence: frames between two agreeing labelled frames take their value, unless the net flags
 * them; with `decide`, the model's score decides what interpolation leaves (NoScope's c_low /
 * c_high: below cLow negative, above cHigh positive), and only its band goes to the reference.
 */
export interface InterpolateNode {
  readonly kind: 'Interpolate';
  readonly sampleStep: number;
  readonly thresholds: PresenceThresholds;
  readonly net: boolean;
  readonly decide: ModelDecision | undefined;
  /** Gaps whose labelled ends disagree are bisected by the reference until the change lies between neighbours, instead of labelled whole. */
  readonly bisect: boolean;
  /** Absent when no model was trained: interpolation with bisection alone. */
  readonly input: SpecializedScoreNode | undefined;
}

/** Count: a stratified random sample of reference labels over time blocks (the model, when present, as control variate). */
export interface StratifiedEstimateNode {
  readonly kind: 'StratifiedEstimate';
  readonly model: string;
  readonly within: number;
  readonly confidence: number;
  /** Variance of the value (or of the model's residual) inside a short time block, from the sample. */
  readonly pilotVariance: number;
  /** Frames an earlier run's random sample drew (drawn again: same seed, same population). */
  readonly drawnBefore: readonly number[];
  /** Why no model corrects the estimate: none was worth training, or the one trained saves fewer labels than its scan costs. */
  readonly withoutModel: 'not-trained' | 'no-gain' | undefined;
  readonly heldOut: Readonly<Record<string, number>>;
  readonly cost: StageCost;
  readonly input: SpecializedScoreNode | undefined;
}

/** Measuring: the reference labels an evenly spaced sample (and the candidates' thumbnails come from the same read). */
export interface LabelSampleNode {
  readonly kind: 'LabelSample';
  readonly model: string;
  /** The sample's spacing; the frames labelled now are every `step`-th (a pilot: every third sample frame). */
  readonly sampleStep: number;
  readonly step: number;
  readonly frames: number;
  readonly missing: number;
  /** A count's pilot: a third of the sample, to tell whether a model can pay. */
  readonly pilot: boolean;
  readonly cost: StageCost;
}

/** Measuring: train each candidate on the sample, time it, calibrate its options on held-out frames. */
export interface TrainCandidatesNode {
  readonly kind: 'TrainCandidates';
  readonly architectures: readonly CandidateArchitecture[];
  readonly sampleFrames: number;
  readonly seconds: number;
  readonly assumed: boolean;
  readonly input: LabelSampleNode | undefined;
}

/** What a cold cascade measures before the optimizer can choose; the answer waits on it. */
export interface CalibrateNode {
  readonly kind: 'Calibrate';
  readonly task: CascadeTask;
  readonly frames: number;
  readonly input: TrainCandidatesNode | LabelSampleNode;
}

/**
 * Presence: certifies the decided answer. Random samples of the frames the reference never saw
 * (answered positive, answered negative) are labelled until the FNR / FPR / precision bounds at
 * the query's confidence meet the targets, the strata are labelled through, or the budget ends.
 */
export interface CertifyNode {
  readonly kind: 'Certify';
  readonly model: string;
  readonly fnr: number;
  readonly fpr: number;
  readonly precision: number | undefined;
  readonly confidence: number;
  readonly budget: number | undefined;
  /** Frames an earlier run drew (labelled now, drawn again: the order depends on the seed and the frame alone). */
  readonly drawnBefore: readonly number[];
  /** Labels the optimizer expects the first look to take. */
  readonly estimatedLabels: number;
  readonly cost: StageCost;
  readonly input: ReferenceScanNode;
}

/**
 * The per-video index's count signals the search ranks by: read where stored, else added (the
 * index sample labelled, a count model per missing class trained, every frame scored).
 */
export interface IndexScanNode {
  readonly kind: 'IndexScan';
  readonly video: string;
  /** Frames of the whole video (the index covers it all). */
  readonly frames: number;
  readonly signals: readonly { readonly name: string; readonly stored: boolean }[];
  readonly sampleStep: number;
  readonly sampleFrames: number;
  /** Sample frames not in the label store (labelled only when a signal is missing). */
  readonly sampleMissing: number;
}

/**
 * LIMIT search (BlazeIt): frames ranked by the index's probability that they satisfy the
 * predicate, verified by the reference in rank order, GAP applied, until k are verified.
 */
export interface LimitSearchNode {
  readonly kind: 'LimitSearch';
  readonly model: string;
  readonly k: number;
  readonly gap: number | undefined;
  readonly range: { readonly start: number; readonly end: number };
  readonly labelled: number;
  readonly cost: StageCost;
  readonly input: IndexScanNode;
}

/** The query's answer from the frames' labels or decisions below it. */
export interface AnswerNode {
  readonly kind: 'Answer';
  readonly query: BoundQuery;
  readonly logical: LogicalNode;
  readonly range: { readonly start: number; readonly end: number };
  readonly video: string;
  /** Estimated seconds of the plan below, when costed. */
  readonly seconds: number | undefined;
  /** What the optimizer weighed to choose this plan. */
  readonly considered: readonly Considered[];
  readonly input: ReferenceScanNode | CertifyNode | StratifiedEstimateNode | CalibrateNode | LimitSearchNode;
}

export type PhysicalNode =
  | ReferenceScanNode
  | DecodeNode
  | FrameSkipNode
  | DifferenceFilterNode
  | SpecializedScoreNode
  | InterpolateNode
  | CertifyNode
  | StratifiedEstimateNode
  | LabelSampleNode
  | TrainCandidatesNode
  | CalibrateNode
  | IndexScanNode
  | LimitSearchNode
  | AnswerNode;
export type PhysicalKind = PhysicalNode['kind'];
export type NodeOf<K extends PhysicalKind> = Extract<PhysicalNode, { kind: K }>;

type Fields<K extends PhysicalKind> = Omit<NodeOf<K>, 'kind'>;
const make =
  <K extends PhysicalKind>(kind: K) =>
  (fields: Fields<K>): NodeOf<K> =>
    Object.freeze({ kind, ...fields }) as NodeOf<K>;

export const PhysicalNode = Object.freeze({
  ReferenceScan: make('ReferenceScan'),
  Decode: make('Decode'),
  FrameSkip: make('FrameSkip'),
  DifferenceFilter: make('DifferenceFilter'),
  SpecializedScore: make('SpecializedScore'),
  Interpolate: make('Interpolate'),
  Certify: make('Certify'),
  StratifiedEstimate: make('StratifiedEstimate'),
  LabelSample: make('LabelSample'),
  TrainCandidates: make('TrainCandidates'),
  Calibrate: make('Calibrate'),
  IndexScan: make('IndexScan'),
  LimitSearch: make('LimitSearch'),
  Answer: make('Answer'),
});

/** A node's child (each physical node has at most one input). */
export function inputOf(node: PhysicalNode): PhysicalNode | undefined {
  return 'input' in node ? node.input : undefined;
}

/** The first node of `kind` at or below `node`. */
export function findNode<K extends PhysicalKind>(node: PhysicalNode | undefined, kind: K): NodeOf<K> | undefined {
  for (let n = node; n; n = inputOf(n)) if (n.kind === kind) return n as NodeOf<K>;
  return undefined;
}
