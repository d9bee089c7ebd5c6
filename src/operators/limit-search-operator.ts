/**
 * LimitSearch: the frames in order of the index's probability, verified by the reference in
 * batches (frames in the label store first, at no cost), GAP applied, until k are verified.
 * Yields the accepted frames' reference labels in frame order for the answer.
 */
import type { LimitSearchNode } from '../plan/physical-node.js';
import { rankedSearch } from '../video-index/ranked-search.js';
import { frameMatcher } from './answer-collector.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';
import { referenceScan, type ReferenceFrame } from './reference-labels.js';

export async function* limitSearchOperator(node: LimitSearchNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  let scores: Float32Array | undefined;
  for await (const batch of input) scores = batch.score;
  const { start, end } = ctx.range;
  const matches = frameMatcher(ctx.query);
  const positives = new Map<number, ReferenceFrame>();
  const check = (f: ReferenceFrame) => {
    const yes = matches(f);
    if (yes) positives.set(f.frame, f);
    return yes;
  };
  // What the label store already answers.
  const known = new Map<number, boolean>();
  const stored = Int32Array.from(await ctx.catalog.labelledFrames(ctx.handle.row.id, ctx.model.id, ctx.range));
  for await (const chunk of referenceScan(ctx.scan(), stored, ctx.counters)) for (const f of chunk) known.set(f.frame, check(f));
  const started = performance.now();
  const calls = ctx.counters.referenceCalls;
  const onProgress = ctx.progress('verify', 'verifying ranked frames');
  const result = await rankedSearch({
    start,
    end,
    k: node.k,
    gap: node.gap ?? 1,
    scores: scores!,
    known,
    verify: async (frames) => {
      const out = new Map<number, boolean>();
      for await (const chunk of referenceScan(ctx.scan(), frames, ctx.counters)) for (const f of chunk) out.set(f.frame, check(f));
      return out;
    },
    ...(onProgress ? { onBatch: (verified: number, accepted: number) => onProgress(accepted, node.k) } : {}),
  });
  ctx.search = { ...result, fromStore: known.size };
  const verified = ctx.counters.referenceCalls - calls;
  ctx.stages.push({ stage: `reference detector (verifying in rank order, ${result.batches} batch${result.batches === 1 ? '' : 'es'}${result.exhausted ? '; fewer than the limit exist, so every frame was checked' : ''})`, framesIn: result.verified, framesDecided: verified, seconds: (performance.now() - started) / 1000 });
  const labelled = result.frames.map((f) => positives.get(f)!);
  const n = labelled.length;
  yield { frames: Int32Array.from(result.frames), route: new Uint8Array(n), score: new Float32Array(n), decision: new Int8Array(n).fill(1), labelled };
}
