/**
 * `sieve index <video>`: the video's index built ahead of queries. With named classes, a count
 * signal for each; without, for every class the index sample shows on at least 1% of its frames
 * (and at least 3), so that later queries on any of them start from it.
 */
import { InterruptedError, SieveError } from '../errors.js';
import { closestNames } from '../language/suggest.js';
import { referenceScan } from '../operators/reference-labels.js';
import { indexSample } from './index-sample.js';
import { ensureIndex, type IndexTarget, type SignalMetrics } from './video-index.js';

export interface IndexSummary {
  readonly video: string;
  readonly frames: number;
  readonly sampleFrames: number;
  readonly signals: readonly { readonly name: string; readonly added: boolean; readonly metrics: SignalMetrics }[];
  readonly referenceCalls: number;
  readonly seconds: number;
}

/** The class ids of `names` (an unknown one fails before anything runs, with the closest names). */
export function classIdsOf(names: readonly string[], labels: readonly string[]): number[] {
  return names.map((name) => {
    const id = labels.indexOf(name);
    if (id >= 0) return id;
    const near = closestNames(name, labels);
    throw new SieveError('UNKNOWN_CLASS', 'query', `unknown class '${name}'${near.length ? `; did you mean ${near.map((n) => `'${n}'`).join(', ')}?` : ''} The reference model's classes are COCO's (${labels.slice(0, 5).join(', ')}, ...).`, { found: name, suggestions: near });
  });
}

export async function indexVideo(t: IndexTarget, name: string, classes: readonly string[] | undefined): Promise<IndexSummary> {
  const started = performance.now();
  const before = t.counters.referenceCalls;
  let ids = classes ? classIdsOf(classes, t.labels) : undefined;
  const sample = indexSample(t.handle.row.frameCount);
  if (!ids) {
    // The classes the sample shows: its labels first (they are the index's own sample, so nothing is labelled twice).
    const frames = new Map<number, number>();
    for await (const chunk of referenceScan(t.scan('sample', 'labelling the index sample'), sample.frames, t.counters)) {
      for (const f of chunk) for (const c of new Set(f.detections.map((d) => d.classId))) frames.set(c, (frames.get(c) ?? 0) + 1);
    }
    const least = Math.max(3, Math.ceil(0.01 * sample.frames.length));
    ids = [...frames].filter(([, n]) => n >= least).map(([c]) => c).sort((a, b) => a - b);
  }
  if (t.signal?.aborted) throw new InterruptedError();
  const result = await ensureIndex(t, ids);
  const rows = new Map((await t.catalog.indexSignals(t.handle.row.id, t.model.id)).map((s) => [s.classId, s] as const));
  return {
    video: name,
    frames: t.handle.row.frameCount,
    sampleFrames: sample.frames.length,
    signals: ids.map((c) => {
      const row = rows.get(c)!;
      return { name: row.signal, added: result.added.includes(row.signal), metrics: row.metrics as SignalMetrics };
    }),
    referenceCalls: t.counters.referenceCalls - before,
    seconds: (performance.now() - started) / 1000,
  };
}
