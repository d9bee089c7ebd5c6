/**
 * SpecializedScore: the specialized model scores the frames routed to it. Presence: its score is
 * the safety net Interpolate checks; frames the difference detector matched take the score of the
 * last frame it scored, background matches score 0. Count: its expected count on every frame
 * (a cold count's sample frames from the thumbnails the sample pass kept).
 */
import { SpecializedModel } from '../inference/specialized-model.js';
import { COST_KEYS } from '../optimizer/cost-model.js';
import { machineKey } from '../optimizer/machine.js';
import type { SpecializedScoreNode } from '../plan/physical-node.js';
import type { FrameBatch } from '../video/frame.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';

export async function* specializedScoreOperator(node: SpecializedScoreNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  const model = await SpecializedModel.load(ctx.cascade!.onnx);
  const size = node.architecture.inputSize;
  let seconds = 0;
  let scored = 0;
  let anchorScore = Number.NaN;
  const score = async (image: FrameBatch, idx: number[]) => {
    const t = performance.now();
    const out = await model.score(image, idx);
    seconds += (performance.now() - t) / 1000;
    scored += idx.length;
    return out;
  };
  try {
    if (node.task === 'count') yield* sampleThumbnails(ctx, size, score);
    for await (const batch of input) {
      const idx: number[] = [];
      for (let i = 0; i < batch.frames.length; i++) if (batch.route[i] === ROUTE.score) idx.push(i);
      const scores = await score(batch.image!, idx);
      let k = 0;
      // In frame order: difference hits inherit the last score, background matches are negatives.
      for (let i = 0; i < batch.frames.length; i++) {
        if (batch.route[i] === ROUTE.score) batch.score[i] = anchorScore = scores[k++]!;
        else if (batch.route[i] === ROUTE.inherit) batch.score[i] = anchorScore;
        else if (batch.route[i] === ROUTE.background) batch.score[i] = 0;
      }
      yield { ...batch, image: undefined };
    }
  } finally {
    await model.dispose();
  }
  ctx.stages.push({ stage: `specialized model ${size}px${node.task === 'presence' ? ' (safety net)' : ''}`, framesIn: scored, framesDecided: scored, seconds });
  // The model's measured cost, for the next query's estimates (a few frames are too noisy to keep).
  if (scored >= 100) await ctx.catalog.putStageCost({ ...COST_KEYS.specialized(size), machine: machineKey(), secondsPerFrame: seconds / scored });
}

/** Count: the model's predictions for the sample frames, from the thumbnails the cold sample pass kept. */
async function* sampleThumbnails(ctx: ExecutionContext, size: number, score: (image: FrameBatch, idx: number[]) => Promise<Float32Array>): AsyncGenerator<CascadeBatch> {
  const sample = ctx.measured.sample;
  const images = sample?.thumbnails.get(size);
  if (!sample || !images) return;
  const bytes = size * size * 3;
  for (let i = 0; i < sample.frames.length; i += 256) {
    const frames = sample.frames.subarray(i, i + 256);
    const image: FrameBatch = { width: size, height: size, count: frames.length, frames, timestamps: new Float64Array(frames.length), data: images.subarray(i * bytes, (i + frames.length) * bytes) };
    const scores = await score(image, Array.from({ length: frames.length }, (_, k) => k));
    yield { frames, route: new Uint8Array(frames.length).fill(ROUTE.score), score: Float32Array.from(scores), decision: new Int8Array(frames.length).fill(-1) };
  }
}
