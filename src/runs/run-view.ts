/**
 * Run history (`sieve runs`, `sieve runs show <id>`): the stored runs, and for one run what it
 * rested on: the query and plan, the reference model and its sha256, the specialized models with
 * their training provenance, what it reused from earlier runs, its costs and its accuracy.
 */
import { SieveError } from '../errors.js';
import type { Catalog } from '../storage/index.js';
import type { QueryRunRow, VideoRow } from '../storage/catalog-rows.js';
import { defaultVideoName } from '../video/video-name.js';
import type { Provenance, StoredAnswer } from './run-record.js';

/** One line of `sieve runs`. */
export interface RunListing {
  readonly id: number;
  readonly startedAt: string;
  readonly status: 'ok' | 'error';
  readonly errorCode: string | null;
  readonly query: string;
  readonly video: string | null;
  readonly referenceCalls: number;
  readonly labelsFromStore: number | null;
  readonly seconds: number;
  /** The runs whose labels, models or index signals this one reused. */
  readonly reusedRuns: readonly number[];
}

/** What `sieve runs show` prints. */
export interface RunDetail extends RunListing {
  readonly finishedAt: string;
  readonly videoPath: string | null;
  readonly videoFrames: number | null;
  readonly referenceModel: { readonly name: string; readonly sha256: string; readonly preprocess: string } | null;
  readonly plan: unknown;
  readonly answer: StoredAnswer | null;
  /** The error's message, for a failed run. */
  readonly message: string | null;
  readonly specializedModels: readonly {
    readonly id: number;
    readonly kind: string;
    readonly predicate: string;
    readonly inputSize: number | null;
    readonly trainingFrames: number;
    readonly trainedByRun: number | null;
    readonly trainedHere: boolean;
  }[];
  readonly provenance: Provenance | null;
  /** The queries of the runs named in `reusedRuns` (a run that was interrupted was never stored: null). */
  readonly sources: readonly { readonly run: number; readonly query: string | null }[];
}

export async function listRuns(catalog: Catalog, limit = 20): Promise<RunListing[]> {
  const rows = await catalog.listQueryRuns(limit);
  const names = new Map<number, string | null>();
  for (const r of rows) {
    if (r.videoId !== null && !names.has(r.videoId)) names.set(r.videoId, videoName(await catalog.findVideoById(r.videoId)));
  }
  return rows.map((r) => listing(r, r.videoId === null ? null : (names.get(r.videoId) ?? null)));
}

export async function runDetail(catalog: Catalog, id: number): Promise<RunDetail> {
  const row = await catalog.findQueryRun(id);
  if (!row) throw new SieveError('RUN_NOT_FOUND', 'input', `no stored run ${id} in this catalog; 'sieve runs' lists them`, { run: id });
  const video = row.videoId === null ? undefined : await catalog.findVideoById(row.videoId);
  const model = row.modelId === null ? undefined : await catalog.findModelById(row.modelId);
  const provenance = (row.provenance ?? null) as Provenance | null;
  const base = listing(row, videoName(video));
  const sources = [];
  for (const run of base.reusedRuns) sources.push({ run, query: (await catalog.findQueryRun(run))?.query ?? null });
  const result = row.result as (StoredAnswer & { message?: string }) | null;
  return {
    ...base,
    finishedAt: row.finishedAt.toISOString(),
    videoPath: video?.path ?? null,
    videoFrames: video?.frameCount ?? null,
    referenceModel: model ? { name: model.name, sha256: model.sha256, preprocess: model.preprocess } : null,
    plan: row.plan,
    answer: result && 'accuracy' in result ? result : null,
    message: row.status === 'error' ? (result?.message ?? null) : null,
    specializedModels: await modelsOf(catalog, row, provenance),
    provenance,
    sources,
  };
}

/** A video's catalog name, else its file's (a video bound by a query alone has no catalog name). */
function videoName(video: VideoRow | undefined): string | null {
  return video ? (video.name ?? defaultVideoName(video.path)) : null;
}

function listing(r: QueryRunRow, video: string | null): RunListing {
  const provenance = r.provenance as Provenance | null;
  const answer = r.result as Partial<StoredAnswer> | null;
  const reused = new Set<number>();
  for (const l of provenance?.labels ?? []) if (l.run !== null && l.run !== r.id) reused.add(l.run);
  for (const m of provenance?.models ?? []) if (m.run !== null && m.run !== r.id) reused.add(m.run);
  for (const s of provenance?.index.reused ?? []) if (s.run !== null && s.run !== r.id) reused.add(s.run);
  return {
    id: r.id,
    startedAt: r.startedAt.toISOString(),
    status: r.status,
    errorCode: r.errorCode,
    query: r.query,
    video,
    referenceCalls: r.referenceCalls,
    labelsFromStore: answer?.stats?.labelsFromStore ?? null,
    seconds: r.seconds,
    reusedRuns: [...reused].sort((a, b) => a - b),
  };
}

async function modelsOf(catalog: Catalog, row: QueryRunRow, provenance: Provenance | null): Promise<RunDetail['specializedModels']> {
  if (!provenance || row.videoId === null) return [];
  const all = await catalog.listSpecializedModels({ videoId: row.videoId });
  return provenance.models.map((m) => {
    const stored = all.find((s) => s.id === m.id);
    const metrics = stored?.metrics as { trainingFrames?: readonly number[]; architecture?: { inputSize?: number } } | undefined;
    return {
      id: m.id,
      kind: m.kind,
      predicate: m.predicate,
      inputSize: metrics?.architecture?.inputSize ?? null,
      trainingFrames: metrics?.trainingFrames?.length ?? 0,
      trainedByRun: m.run,
      trainedHere: m.trainedHere,
    };
  });
}
