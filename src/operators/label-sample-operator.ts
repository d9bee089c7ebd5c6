/**
 * LabelSample (measuring): the reference labels the sample frames the query has not labelled yet,
 * and the same ffmpeg read hands over every candidate model's thumbnails of them. It records the
 * reference's measured cost for the optimizer's next pass.
 */
import { ARCHITECTURES } from '../optimizer/cascade-statistics.js';
import { detectorInputKey, recordOutputCost } from '../optimizer/decode-cost.js';
import { machineKey } from '../optimizer/machine.js';
import type { SampleMeasurement } from '../optimizer/measurements.js';
import type { LabelSampleNode } from '../plan/physical-node.js';
import type { FrameBatch } from '../video/frame.js';
import { frameList } from '../video/frame-range.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

export async function* labelSampleOperator(node: LabelSampleNode, ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const { range, counters } = ctx;
  const sample = (ctx.measured.sample ??= openSample(ctx, node.sampleStep));
  const frames = frameList(range.start, range.end, node.step).filter((f) => !sample.truth.has(f));
  // One read of the file per sample pass: the detector's input for unlabelled frames and every
  // candidate model's thumbnails come out of the same ffmpeg process.
  const thumbnails = {
    outputs: ARCHITECTURES.map((a) => ({ width: a.inputSize, height: a.inputSize })),
    onBatch: (batches: readonly FrameBatch[]) => {
      for (const b of batches) {
        const bytes = b.width * b.height * 3;
        const into = sample.thumbnails.get(b.width)!;
        for (let i = 0; i < b.count; i++) into.set(b.data.subarray(i * bytes, (i + 1) * bytes), ((b.frames[i]! - range.start) / sample.step) * bytes);
      }
    },
  };
  const started = performance.now();
  const calls = counters.referenceCalls;
  for await (const chunk of referenceScan(ctx.scan('sample', 'labelling sample'), frames, counters, { thumbnails })) {
    for (const f of chunk) sample.truth.set(f.frame, ctx.truthOf(f.detections, f.frame, f.timestamp));
  }
  const stage = ctx.task === 'count' ? (node.pilot ? 'pilot sample (reference)' : 'training sample (reference)') : 'sample (reference)';
  ctx.stages.push({ stage, framesIn: frames.length, framesDecided: counters.referenceCalls - calls, seconds: (performance.now() - started) / 1000 });
  if (counters.referenceCalls > 0) sample.referenceSeconds = (counters.detectSeconds + (counters.decodeWaitSeconds ?? 0)) / counters.referenceCalls;
  sample.referenceCalls = counters.referenceCalls;
  sample.pilotOnly = node.pilot;
  const { width: W, height: H } = ctx.handle.row;
  await recordOutputCost(ctx.catalog, detectorInputKey(W, H), machineKey(), counters.decodeWaitSeconds ?? 0, counters.framesDecoded);
}

function openSample(ctx: ExecutionContext, step: number): SampleMeasurement {
  const frames = frameList(ctx.range.start, ctx.range.end, step);
  const thumbnails = new Map(ARCHITECTURES.map((a) => [a.inputSize, new Uint8Array(frames.length * a.inputSize * a.inputSize * 3)] as const));
  return { step, frames, truth: new Map(), thumbnails, pilotOnly: true, referenceSeconds: undefined, referenceCalls: 0 };
}
