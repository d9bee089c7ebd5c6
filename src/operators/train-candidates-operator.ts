/**
 * TrainCandidates (measuring): every candidate architecture trained on the labelled sample, timed,
 * and calibrated on held-out frames (presence: the later time blocks; count: the interleaved
 * half, which the estimate keeps). The optimizer's search chooses among them on its next pass.
 */
import { ARCHITECTURES } from '../optimizer/cascade-statistics.js';
import type { TrainCandidatesNode } from '../plan/physical-node.js';
import { calibrateCandidate, type Candidate } from '../training/cascade-calibration.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';

export async function* trainCandidatesOperator(node: TrainCandidatesNode, ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const sample = ctx.measured.sample!;
  const started = performance.now();
  const truth = Float32Array.from(sample.frames, (f) => sample.truth.get(f)!);
  const trainIdx: number[] = [];
  const estimationIdx: number[] = [];
  if (ctx.task === 'count') sample.frames.forEach((_, i) => (i % 2 === 0 ? trainIdx : estimationIdx).push(i));
  else sample.frames.forEach((_, i) => trainIdx.push(i));
  const model = await ctx.session.referenceModel();
  const onProgress = ctx.options.onProgress;
  const input = {
    query: ctx.query,
    task: ctx.task!,
    frames: ctx.frames,
    sample: { step: sample.step, frames: sample.frames, truth, thumbnails: sample.thumbnails },
    trainIdx,
    estimationIdx,
    provenance: { video: ctx.handle.row.path, labelSource: model.manifest.name, target: ctx.key!.predicateKey },
    ...(ctx.options.signal ? { signal: ctx.options.signal } : {}),
    ...(onProgress
      ? { onProgress: (a: { inputSize: number }, epoch: number, maxEpochs: number) => onProgress({ phase: 'train', label: `training ${a.inputSize}px model`, done: epoch, total: maxEpochs, unit: 'steps' }) }
      : {}),
  };
  const candidates: Candidate[] = [];
  for (const arch of node.architectures.length > 0 ? node.architectures : ARCHITECTURES) candidates.push(await calibrateCandidate(input, arch));
  const seconds = (performance.now() - started) / 1000;
  ctx.measured.training = { candidates, trainIdx, estimationIdx, seconds };
  ctx.stages.push({ stage: 'train + calibrate', framesIn: sample.frames.length, framesDecided: 0, seconds });
}
