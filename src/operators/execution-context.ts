/**
 * What every operator of one query reads and adds to: the catalog and video, the reference model,
 * counters, the stage log, the measurements a cold cascade takes, the cascade being run, the
 * signal and progress. One per query, shared by the measuring steps and the plan that follows.
 */
import { compileObjectPredicate, type BoundQuery } from '../binder/index.js';
import type { EngineSession, VideoHandle } from '../engine-session.js';
import type { QueryOptions } from '../engine.js';
import type { StageStats } from '../engine-types.js';
import type { Detection } from '../inference/detection.js';
import type { CascadeKey, CascadeTask, StoredCascade } from '../optimizer/cascade-statistics.js';
import type { Measurements } from '../optimizer/measurements.js';
import type { FrameRange } from '../optimizer/rules/push-range-into-scan-rule.js';
import type { ModelRow } from '../storage/catalog-rows.js';
import type { FrameBatch } from '../video/frame.js';
import type { FrameGrid } from '../video/read-plan.js';
import { FrameLedger } from '../video/decode-ledger.js';
import { emptyDecodeStats } from '../video/decoder.js';
import type { SearchResult } from '../video-index/ranked-search.js';
import type { ReferenceFrame, ReferenceScanContext, ReferenceScanCounters } from './reference-labels.js';

/** What flows between operators: frames in order, each with its route, score and decision. */
export interface CascadeBatch {
  readonly frames: Int32Array;
  /** What the next stage does with each frame (see {@link ROUTE}). */
  readonly route: Uint8Array;
  /** Presence score or count prediction; NaN where none yet. */
  readonly score: Float32Array;
  /** Presence: 1 / 0 decided, -1 undecided. */
  readonly decision: Int8Array;
  /** Pixels, while a stage still needs them. */
  readonly image?: FrameBatch;
  /** Reference labels (exact scans). */
  readonly labelled?: readonly ReferenceFrame[];
  /** A count's estimate (the stratified estimate's one batch). */
  readonly estimate?: CountAnswer;
}

/** What certification found: bounds at the confidence, and what it labelled to get them. */
export interface Certificate {
  readonly fnr: number;
  readonly fpr: number;
  readonly precision: number;
  readonly falseNegatives: number;
  readonly falsePositives: number;
  readonly confidence: number;
  readonly sampled: number;
  readonly unverified: number;
  readonly looks: number;
  readonly budgetReached: boolean;
}

/** What the stratified estimate found, for the answer. */
export interface CountAnswer {
  readonly value: number;
  readonly halfWidth: number;
  readonly within: number;
  readonly confidence: number;
  readonly useModel: boolean;
  readonly sampled: number;
  readonly blocks: number;
  readonly exact: number;
}

/** A frame's route through the presence stages. */
export const ROUTE = Object.freeze({
  /** Left out (labelled already, or skipped): no cheap stage looks at it. */
  none: 0,
  /** Its reference label is known (from the store, or checked in this query). */
  labelled: 1,
  /** The difference detector found it close to the last scored frame: it takes that score. */
  inherit: 2,
  /** The specialized model scores it. */
  score: 3,
  /** Close to the empty background: as sure a negative as a model score of 0. */
  background: 4,
});

/** The stages of the run, in the order they finished; an operator may amend the entry another pushed. */
export class StageLog {
  private readonly entries: StageStats[] = [];
  push(stats: StageStats): void {
    this.entries.push(stats);
  }
  unshift(stats: StageStats): void {
    this.entries.unshift(stats);
  }
  /** Replaces the last entry whose stage starts with `prefix`. */
  amend(prefix: string, change: (stats: StageStats) => StageStats): void {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i]!.stage.startsWith(prefix)) {
        this.entries[i] = change(this.entries[i]!);
        return;
      }
    }
  }
  list(): StageStats[] {
    return [...this.entries];
  }
}

export interface Counters extends ReferenceScanCounters {
  readonly ledger: FrameLedger;
  readonly storeFrames: Set<number>;
}

export class ExecutionContext {
  readonly counters: Counters;
  readonly stages = new StageLog();
  readonly measured: Measurements = {};
  /** The cascade being run (set once the optimizer chose one). */
  cascade: StoredCascade | undefined;
  /** Frames the reference checked because the cheap stages left them uncertain. */
  uncertainChecked = 0;
  /** LIMIT search: what the index gave (signals read and added) and what the search verified. */
  indexUse: { readonly reused: readonly string[]; readonly added: readonly string[] } | undefined;
  search: (SearchResult & { readonly fromStore: number }) | undefined;
  /** The presence answer's certificate, once the Certify operator ran. */
  certificate: Certificate | undefined;
  private labelled: Promise<Set<number>> | undefined;
  private readonly where: ReturnType<typeof compileObjectPredicate>;

  constructor(
    readonly session: EngineSession,
    readonly query: BoundQuery,
    readonly handle: VideoHandle,
    readonly model: ModelRow,
    readonly labels: readonly string[],
    readonly range: FrameRange,
    readonly options: QueryOptions,
    /** performance.now() when the query began. */
    readonly started: number,
    readonly task: CascadeTask | undefined,
    readonly key: CascadeKey | undefined,
  ) {
    this.counters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0, ledger: new FrameLedger(handle.row.frameCount), decode: emptyDecodeStats(), storeFrames: new Set() };
    this.where = compileObjectPredicate(query.where);
  }

  get frames(): number {
    return this.range.end - this.range.start;
  }

  get catalog() {
    return this.session.catalog;
  }

  /** A frame's value for the query: presence 1 / 0, or the number of matching objects. */
  truthOf(detections: readonly Detection[], frame: number, timestamp: number): number {
    let n = 0;
    for (const d of detections) if (this.where({ frame, timestamp, ...d })) n++;
    return this.task === 'count' ? n : n > 0 ? 1 : 0;
  }

  /** The context of a reference scan, reporting progress under `phase` when the caller listens. */
  scan(phase?: string, label?: string): ReferenceScanContext {
    return this.session.scanContext(this.handle, this.model, this.options.signal, phase ? this.progress(phase, label ?? phase) : undefined);
  }

  progress(phase: string, label: string): ((done: number, total: number) => void) | undefined {
    const on = this.options.onProgress;
    return on ? (done: number, total: number) => on({ phase, label, done, total, unit: 'frames' }) : undefined;
  }

  /** Frames of the range in the label store when the cascade's scan began (read once). */
  labelledSet(): Promise<Set<number>> {
    // A presence cascade's earlier verification frames are not anchors: they are drawn again, as a random sample.
    const drawn = new Set(this.task === 'presence' ? (this.cascade?.statistics.verificationFrames ?? []) : []);
    this.labelled ??= this.catalog.labelledFrames(this.handle.row.id, this.model.id, this.range).then((f) => new Set(f.filter((x) => !drawn.has(x))));
    return this.labelled;
  }

  /** A grid of sample frames all labelled before the scan (no reference pass decodes them again). */
  async labelledGrid(): Promise<FrameGrid | undefined> {
    const step = this.cascade?.statistics.sampleStep;
    if (step === undefined) return undefined;
    const labelled = await this.labelledSet();
    return gridOf(this.range, step, labelled) ?? gridOf(this.range, step * 3, labelled);
  }
}

/** The sample grid `start + k * step`, when every frame of it in range is labelled. */
export function gridOf(range: FrameRange, step: number, labelled: ReadonlySet<number>): FrameGrid | undefined {
  if (!(step > 1)) return undefined;
  for (let f = range.start; f < range.end; f += step) if (!labelled.has(f)) return undefined;
  return { start: range.start, step };
}
