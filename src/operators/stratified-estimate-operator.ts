/**
 * StratifiedEstimate: a count from a stratified random sample of reference labels over time
 * blocks, refined until the interval is as narrow as the query asks; the specialized model's
 * prediction on every frame, when the plan has one, is the control variate. Labelled frames
 * count exactly, except those an earlier run's random sample drew (drawn again: same seed, same
 * population, so they stay part of the sample).
 */
import { Random } from '../training/random.js';
import { CASCADE_SEED, type CascadeStatistics } from '../optimizer/cascade-statistics.js';
import { sampleStratified } from '../optimizer/count-estimator.js';
import type { StratifiedEstimateNode } from '../plan/physical-node.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

export async function* stratifiedEstimateOperator(node: StratifiedEstimateNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch> | undefined): AsyncGenerator<CascadeBatch> {
  const { range, frames: N, counters } = ctx;
  const labelled = await ctx.labelledSet();
  const prediction = new Float32Array(N);
  for await (const batch of input ?? []) batch.frames.forEach((f, i) => (prediction[f - range.start] = batch.score[i]!));
  const grid = await ctx.labelledGrid();
  const drawnBefore = new Set(node.drawnBefore);
  const exact = [...labelled].filter((f) => f >= range.start && f < range.end && !drawnBefore.has(f));
  const exactSet = new Set(exact);
  const population: number[] = [];
  for (let f = range.start; f < range.end; f++) if (!exactSet.has(f)) population.push(f);
  const useModel = node.input !== undefined;
  const truth = new Map<number, number>();
  const started = performance.now();
  const read = async (frames: readonly number[], phase: string) => {
    const list = Int32Array.from([...new Set(frames)].sort((a, b) => a - b));
    for await (const chunk of referenceScan(ctx.scan(phase, 'reference (sample)'), list, counters, grid ? { skip: grid } : {})) {
      for (const f of chunk) truth.set(f.frame, ctx.truthOf(f.detections, f.frame, f.timestamp));
    }
  };
  await read(exact, 'store');
  const rng = new Random((ctx.options.seed ?? CASCADE_SEED) ^ ctx.handle.row.id);
  const { estimate, drawn, blocks } = await sampleStratified({
    population,
    frames: N,
    exactSum: exact.reduce((a, f) => a + truth.get(f)!, 0),
    exactFrames: exact.length,
    within: node.within,
    confidence: node.confidence,
    pilotVariance: node.pilotVariance,
    random: () => rng.next(),
    predicted: (f) => (useModel ? prediction[f - range.start]! : 0),
    label: (frames) => read(frames.filter((f) => !truth.has(f)), 'estimate'),
    value: (f) => truth.get(f)!,
  });
  await recordDrawn(ctx, drawn, drawnBefore);
  ctx.stages.unshift({ stage: 'label store', framesIn: N, framesDecided: counters.labelsFromStore, seconds: 0 });
  ctx.stages.push({ stage: `reference detector (stratified random sample, ${blocks.length} time blocks)`, framesIn: drawn.size, framesDecided: drawn.size, seconds: (performance.now() - started) / 1000 });
  const answer = { value: estimate.value, halfWidth: estimate.halfWidth, within: node.within, confidence: node.confidence, useModel, sampled: estimate.sampled, blocks: blocks.length, exact: exact.length };
  yield { frames: new Int32Array(0), route: new Uint8Array(0), score: new Float32Array(0), decision: new Int8Array(0), estimate: answer };
}

/** Stores the frames this run's random sample drew with the cascade, so the next run draws them again. */
async function recordDrawn(ctx: ExecutionContext, drawn: ReadonlySet<number>, drawnBefore: ReadonlySet<number>): Promise<void> {
  const key = ctx.key!;
  const added = [...drawn].filter((f) => !drawnBefore.has(f));
  if (added.length === 0 && drawn.size === drawnBefore.size) return;
  const stored = await ctx.catalog.findSpecializedModel(key);
  if (!stored) return;
  const metrics: CascadeStatistics = { ...(stored.metrics as CascadeStatistics), estimationFrames: [...drawn].sort((a, b) => a - b) };
  await ctx.catalog.putSpecializedModel({ ...key, architecture: stored.architecture, onnx: stored.onnx, manifest: stored.manifest, metrics });
}
