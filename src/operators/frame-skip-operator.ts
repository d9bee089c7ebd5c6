/**
 * FrameSkip: the skip itself is pushed down into the decode (only every k-th frame is read); this
 * operator counts the frames it left out. Their scores are filled in by Interpolate, from the
 * last frame evaluated before them.
 */
import type { FrameSkipNode } from '../plan/physical-node.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';

export async function* frameSkipOperator(node: FrameSkipNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  const labelled = await ctx.labelledSet();
  let evaluated = 0;
  for await (const batch of input) {
    for (const r of batch.route) if (r !== ROUTE.none) evaluated++;
    yield batch;
  }
  const unlabelled = ctx.frames - labelled.size;
  ctx.stages.push({ stage: `frame skip (every ${node.skip})`, framesIn: unlabelled, framesDecided: unlabelled - evaluated, seconds: 0 });
}
