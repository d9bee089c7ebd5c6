/** Public result and progress types of the engine. */

export interface ProgressEvent {
  /** A stable phase key: `label`, `sample`, `train`, `scan`, `verify`. */
  readonly phase: string;
  /** What a person reads beside the bar. */
  readonly label: string;
  readonly done: number;
  readonly total: number;
  readonly unit: 'frames' | 'steps';
}

export type ResultValue = number | string | null;
export type ResultRow = Readonly<Record<string, ResultValue>>;

/** One stage of an executed plan and what it did. */
export interface StageStats {
  readonly stage: string;
  /** Frames that reached this stage. */
  readonly framesIn: number;
  /** Frames this stage decided (did not pass on). */
  readonly framesDecided: number;
  readonly seconds: number;
}

export interface RunStats {
  /** Frames in the query's range. */
  readonly framesInRange: number;
  /** Frames ffmpeg decoded for this query (any resolution). */
  readonly framesDecoded: number;
  /** Frames the reference detector ran on during this query. */
  readonly referenceCalls: number;
  /** Frames whose reference labels came from the label store. */
  readonly labelsFromStore: number;
  readonly seconds: number;
  readonly stages: readonly StageStats[];
  /**
   * Frames decoded per output size in this query: delivered, delivered a second time (0 when no
   * frame is decoded twice at one size), and output only to be dropped (a bounded `select`
   * expression covered them).
   */
  readonly decoded?: readonly { readonly size: string; readonly frames: number; readonly repeated: number; readonly dropped: number }[];
  /**
   * The ffmpeg processes that read the video, the keyframe seeks among them, the frames they
   * decoded through, those output only to be dropped, and the longest command line (characters).
   */
  readonly reads?: { readonly processes: number; readonly seeks: number; readonly framesRead: number; readonly framesDropped: number; readonly longestCommand: number };
}

/** How the answer relates to the reference detector's exact answer. */
export interface AccuracyReport {
  /**
   * `exact`: every frame in range has reference labels; `verified`: a LIMIT search, every returned
   * frame checked by the reference (any k matching frames, not necessarily the first); `cascade`:
   * what the plan promised.
   */
  readonly mode: 'exact' | 'verified' | 'cascade';
  readonly targets: Readonly<Record<string, number>>;
  /** Estimates measured on held-out labelled frames (cascade) or 0 (exact). */
  readonly estimated: Readonly<Record<string, number>>;
  readonly met: boolean;
  readonly note: string;
  /** Certified answers: the confidence at which every bound in `estimated` holds, and the method. */
  readonly confidence?: number;
  readonly method?: string;
}

export interface QueryResult {
  /** The query shape: `rows`, `frames`, `aggregate`, `limit`, `explain`. */
  readonly kind: 'rows' | 'frames' | 'aggregate' | 'limit' | 'explain';
  readonly video: { readonly name: string; readonly path: string };
  readonly columns: readonly string[];
  readonly rows: readonly ResultRow[];
  /** For aggregates: the single value, and its confidence interval when one applies. */
  readonly value?: number;
  readonly interval?: { readonly low: number; readonly high: number; readonly confidence: number };
  readonly accuracy: AccuracyReport;
  readonly stats: RunStats;
  /** The plan as `EXPLAIN` prints it. */
  readonly plan: string;
  /** The stored run's id (`sieve runs show <id>`, `sieve report <id>`, `engine.report(id)`). */
  readonly runId?: number;
}
