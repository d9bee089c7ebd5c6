/**
 * What a stored query run keeps: a compact summary of the answer (enough to list the run, show it
 * and draw its report without running it again) and its provenance (the earlier runs whose labels,
 * models and index signals it reused).
 */
import type { QueryResult, ResultRow } from '../engine-types.js';
import type { Catalog } from '../storage/index.js';

/** Rows a run keeps verbatim (the rest is summarised by `matched`). */
export const STORED_ROWS = 50;
/** Matched intervals a run keeps (a report draws at most this many; the count is kept exactly). */
export const STORED_INTERVALS = 5_000;

/** The answer as a stored run keeps it. */
export interface StoredAnswer {
  readonly kind: QueryResult['kind'];
  readonly columns: readonly string[];
  readonly value: number | null;
  readonly interval: QueryResult['interval'] | null;
  readonly accuracy: QueryResult['accuracy'];
  readonly stats: QueryResult['stats'];
  /** EXPLAIN ANALYZE of the plan that ran. */
  readonly plan: string;
  readonly rowCount: number;
  readonly rows: readonly ResultRow[];
  /** Frames the answer selected, as half-open `[start, end)` runs of consecutive frames (first {@link STORED_INTERVALS}). */
  readonly matched: readonly (readonly [number, number])[];
  readonly matchedFrames: number;
  readonly matchedTruncated: boolean;
  /** The classes the query names (their boxes are the ones a report draws). */
  readonly classes: readonly string[];
  /** The query's frame range `[start, end)`. */
  readonly range: { readonly start: number; readonly end: number };
}

/** What a run read that earlier runs wrote. `run: null`: written outside any run (`sieve label`, or before provenance was kept). */
export interface Provenance {
  readonly labels: readonly { readonly run: number | null; readonly frames: number }[];
  readonly models: readonly { readonly id: number; readonly kind: string; readonly predicate: string; readonly run: number | null; readonly trainedHere: boolean }[];
  readonly index: { readonly reused: readonly { readonly signal: string; readonly run: number | null }[]; readonly added: readonly string[] };
}

/**
 * Frames of a result's rows merged into runs of consecutive frames: the `frame` column, else the
 * `timestamp` column mapped to the frame shown at that time (`timestamps`: the video's, ascending).
 */
export function matchedIntervals(rows: readonly ResultRow[], timestamps?: Float64Array): { intervals: [number, number][]; frames: number } {
  const frames = new Set<number>();
  for (const r of rows) {
    const frame = r['frame'];
    const t = r['timestamp'];
    if (typeof frame === 'number') frames.add(frame);
    else if (typeof t === 'number' && timestamps && timestamps.length > 0) frames.add(frameAt(timestamps, t));
  }
  const sorted = [...frames].sort((a, b) => a - b);
  const intervals: [number, number][] = [];
  for (const f of sorted) {
    const last = intervals[intervals.length - 1];
    if (last && last[1] === f) last[1] = f + 1;
    else intervals.push([f, f + 1]);
  }
  return { intervals, frames: sorted.length };
}

/** The last frame shown at or before time `t`. */
function frameAt(timestamps: Float64Array, t: number): number {
  let lo = 0;
  let hi = timestamps.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (timestamps[mid]! <= t + 1e-9) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function storedAnswer(result: QueryResult, plan: string, query: { readonly classes: readonly string[]; readonly range: { readonly start: number; readonly end: number }; readonly timestamps?: Float64Array }): StoredAnswer {
  const { intervals, frames } = matchedIntervals(result.rows, query.timestamps);
  return {
    kind: result.kind,
    columns: result.columns,
    value: result.value ?? null,
    interval: result.interval ?? null,
    accuracy: result.accuracy,
    stats: result.stats,
    plan,
    rowCount: result.rows.length,
    rows: result.rows.slice(0, STORED_ROWS),
    matched: intervals.slice(0, STORED_INTERVALS),
    matchedFrames: frames,
    matchedTruncated: intervals.length > STORED_INTERVALS,
    classes: query.classes,
    range: { start: query.range.start, end: query.range.end },
  };
}

/** The run's provenance: who wrote the labels it read back, which stored models and index signals it used. */
export async function provenanceOf(
  catalog: Catalog,
  run: { readonly id: number; readonly videoId: number; readonly modelId: number },
  used: {
    readonly storeFrames: ReadonlySet<number>;
    readonly model: { readonly videoId: number; readonly referenceModelId: number; readonly predicateKey: string; readonly kind: string } | undefined;
    readonly index: { readonly reused: readonly string[]; readonly added: readonly string[] } | undefined;
  },
): Promise<Provenance> {
  const labels = (await catalog.labelSources(run.videoId, run.modelId, [...used.storeFrames])).filter((l) => l.run !== run.id);
  const models: Provenance['models'][number][] = [];
  if (used.model) {
    const m = await catalog.findSpecializedModel(used.model);
    if (m) models.push({ id: m.id, kind: m.kind, predicate: m.predicateKey, run: m.runId, trainedHere: m.runId === run.id });
  }
  const signals = used.index && used.index.reused.length > 0 ? await catalog.indexSignalRuns(run.videoId, run.modelId) : [];
  const reused = (used.index?.reused ?? []).map((signal) => ({ signal, run: signals.find((s) => s.signal === signal)?.runId ?? null }));
  return { labels, models, index: { reused, added: used.index?.added ?? [] } };
}
