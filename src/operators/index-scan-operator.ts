/**
 * IndexScan: the index's count signals for the classes the query's proxy reads (built and added
 * where missing), turned into each frame's probability of satisfying the predicate.
 */
import type { IndexScanNode } from '../plan/physical-node.js';
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
  const counts = new Map([...index.counts].map(([c, v]) => [c, v.subarray(start, end)] as const));
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) score[i] = proxy.probability(counts, i);
  const read = index.added.length === 0 ? ` (read: ${index.reused.join(', ')})` : ` (added: ${index.added.join(', ')}${index.reused.length ? `; read: ${index.reused.join(', ')}` : ''})`;
  ctx.stages.push({ stage: `index${read}`, framesIn: n, framesDecided: 0, seconds: (performance.now() - started) / 1000 });
  yield { frames: Int32Array.from({ length: n }, (_, i) => start + i), route: new Uint8Array(n).fill(ROUTE.score), score, decision: new Int8Array(n).fill(-1) };
}
