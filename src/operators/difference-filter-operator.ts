/**
 * DifferenceFilter (NoScope's difference detector): a frame close to the empty background is a
 * negative; a frame close to the last frame the model scored takes that frame's score. Only the
 * rest goes on to the specialized model. Disabled (the optimizer found it not worth its cost), it
 * passes every frame on.
 */
import type { DifferenceFilterNode } from '../plan/physical-node.js';
import { distance } from '../video/frame-distance.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';

export async function* differenceFilterOperator(node: DifferenceFilterNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  const dd = node.choice?.enabled && node.choice.spec ? node.choice : undefined;
  if (!dd) return yield* input;
  const background = dd.background ? new Uint8Array(Buffer.from(dd.background, 'base64')) : undefined;
  let anchor: Uint8Array | undefined;
  let seconds = 0;
  let seen = 0;
  let hits = 0;
  for await (const batch of input) {
    const image = batch.image!;
    const size = image.width;
    const bytes = size * image.height * 3;
    const t = performance.now();
    for (let i = 0; i < batch.frames.length; i++) {
      if (batch.route[i] !== ROUTE.score) continue;
      seen++;
      const pixels = image.data.subarray(i * bytes, (i + 1) * bytes);
      if (dd.spec.reference === 'background' && distance(dd.spec, pixels, background!, size, size) < dd.threshold) batch.route[i] = ROUTE.background;
      else if (dd.spec.reference === 'earlier-frame' && anchor && distance(dd.spec, pixels, anchor, size, size) < dd.threshold) batch.route[i] = ROUTE.inherit;
      else anchor = pixels.slice();
      if (batch.route[i] !== ROUTE.score) hits++;
    }
    seconds += (performance.now() - t) / 1000;
    yield batch;
  }
  ctx.stages.push({ stage: `difference detector (${dd.spec.kind}, vs ${dd.spec.reference})`, framesIn: seen, framesDecided: hits, seconds });
}
