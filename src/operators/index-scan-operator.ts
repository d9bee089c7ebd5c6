/**
 * IndexScan: the index's count signals for the classes the query's proxy reads (built and added
 * where missing), turned into each frame's probability of satisfying the predicate.
 */
import type { IndexScanNode } from '../plan/physical-node.js';
import { correctCounts, type LabelledCount } from '../video-index/count-correction.js';
import { queryProxy } from '../video-index/proxy-score.js';
import { ensureIndex } from '../video-index/video-index.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';

export async function* indexScanOperator(_node: IndexScanNode, ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const proxy = queryProxy(ctx.query)!;
  const started = performance.now();
  const index = await ensureIndex(
    {
      catalog: ctx.catalog,
      handle: ctx.handle,
      model: ctx.model,
      labels: ctx.labels,
      scan: (phase, label) => ctx.scan(phase, label),
      ffmpeg: ctx.session.ffmpegOptions(),
      counters: ctx.counters,
      ...(ctx.counters.decode ? { decodeStats: ctx.counters.decode } : {}),
      ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
      ...(ctx.options.onProgress ? { onProgress: ctx.options.onProgress } : {}),
    },
    proxy.classIds,
  );
  for (const s of index.stages) ctx.stages.push(s);
  ctx.indexUse = { reused: index.reused, added: index.added };
  const { start, end } = ctx.range;
  const n = end - start;
  const stored = await storedCounts(ctx, proxy.classIds);
  const counts = new Map([...index.counts].map(([c, v]) => [c, correctCounts(v.subarray(start, end), start, stored.get(c)!, (f) => v[f]!)] as const));
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) score[i] = proxy.probability(counts, i);
  const read = index.added.length === 0 ? ` (read: ${index.reused.join(', ')})` : ` (added: ${index.added.join(', ')}${index.reused.length ? `; read: ${index.reused.join(', ')}` : ''})`;
  const labelled = stored.get(proxy.classIds[0]!)!.length;
  ctx.stages.push({ stage: `index${read}, corrected by the reference's counts on ${labelled} stored frame${labelled === 1 ? '' : 's'}`, framesIn: n, framesDecided: 0, seconds: (performance.now() - started) / 1000 });
  yield { frames: Int32Array.from({ length: n }, (_, i) => start + i), route: new Uint8Array(n).fill(ROUTE.score), score, decision: new Int8Array(n).fill(-1) };
}

/**
 * The reference's count of each class on the stored frames of the range and the nearest stored
 * frame on either side of it (all the correction reads), ascending by frame.
 */
async function storedCounts(ctx: ExecutionContext, classIds: readonly number[]): Promise<Map<number, LabelledCount[]>> {
  const videoId = ctx.handle.row.id;
  const { start, end } = ctx.range;
  const all = await ctx.catalog.labelledFrames(videoId, ctx.model.id);
  let lo = 0;
  while (lo + 1 < all.length && all[lo + 1]! <= start) lo++;
  let hi = all.length;
  while (hi - 1 > lo && all[hi - 2]! >= end - 1) hi--;
  const frames = all.subarray(lo, hi);
  const at = new Map<number, number>();
  frames.forEach((f, i) => at.set(f, i));
  const counts = new Map(classIds.map((c) => [c, new Int32Array(frames.length)] as const));
  const window = frames.length > 0 ? { start: frames[0]!, end: frames[frames.length - 1]! + 1 } : { start, end };
  for (const d of await ctx.catalog.readDetections(videoId, ctx.model.id, { classIds, ...window })) {
    const i = at.get(d.frame);
    if (i !== undefined) counts.get(d.classId)![i]!++;
  }
  return new Map([...counts].map(([c, v]) => [c, Array.from(frames, (frame, i) => ({ frame, count: v[i]! }))] as const));
}
