/**
 * Decode: the range's frames at the specialized model's size, the frame skip pushed down into
 * ffmpeg (presence), frames the query already holds (a labelled sample grid, or a cold count's
 * sample thumbnails) never decoded again. With a frame skip, it may let the decoder skip frames
 * no other frame refers to (-skip_frame noref), where measured on this file it is cheaper and
 * keeps the frames it evaluates at most the skip apart.
 */
import { VideoError } from '../errors.js';
import { outputKey, recordDecodeCosts, recordOutputCost } from '../optimizer/decode-cost.js';
import { machineKey } from '../optimizer/machine.js';
import type { DecodeNode } from '../plan/physical-node.js';
import { addDecodeStats, decodeFrames, emptyDecodeStats } from '../video/decoder.js';
import type { FrameBatch } from '../video/frame.js';
import type { FrameGrid } from '../video/read-plan.js';
import { decodeReduced, measureReduced } from '../video/reduced-decode.js';
import { gridOf, ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';

export async function* decodeOperator(node: DecodeNode, ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const { range, counters, handle } = ctx;
  const presence = ctx.task === 'presence';
  const labelled = await ctx.labelledSet();
  const step = ctx.cascade!.statistics.sampleStep;
  // Frames this query already holds at the model's size (the cold sample's thumbnails), and a
  // grid of labelled frames presence never needs: neither is decoded again.
  const grid: FrameGrid | undefined = presence ? gridOf(range, step, labelled) : ctx.measured.sample?.thumbnails.has(node.size) ? { start: range.start, step } : undefined;
  const reduced = node.reducible ? await chooseReducedDecode(ctx, node.step) : undefined;
  const stats = emptyDecodeStats();
  const source = openDecode(ctx, node, grid, reduced !== undefined, stats, labelled);
  const evaluated = new Uint8Array(presence ? ctx.frames : 0);
  const onScan = ctx.progress('scan', 'cascade scan');
  let lastEvaluated = range.start - node.step;
  let seconds = 0;
  let decoded = 0;
  let t = performance.now();
  for await (const batch of source) {
    seconds += (performance.now() - t) / 1000;
    decoded += batch.count;
    counters.framesDecoded += batch.count;
    const route = new Uint8Array(batch.count).fill(ROUTE.score);
    if (presence) {
      for (let i = 0; i < batch.count; i++) {
        const f = batch.frames[i]!;
        if (labelled.has(f) || (reduced && f - lastEvaluated < node.step - reduced.maxGap + 1)) route[i] = ROUTE.none;
        else {
          lastEvaluated = f;
          evaluated[f - range.start] = 1;
        }
      }
    }
    yield { frames: batch.frames, route, score: new Float32Array(batch.count).fill(Number.NaN), decision: new Int8Array(batch.count).fill(-1), image: batch };
    onScan?.(decoded, ctx.frames);
    t = performance.now();
  }
  addDecodeStats(counters.decode!, stats);
  const { width: W, height: H } = handle.row;
  await recordDecodeCosts(ctx.catalog, W, H, machineKey(), { all: emptyDecodeStats(), readPass: { seconds, framesRead: stats.framesRead } });
  await recordOutputCost(ctx.catalog, outputKey(W, H, node.size, node.size), machineKey(), seconds, decoded);
  const note = reduced ? ` (-skip_frame noref: ${decoded} frames decoded, evaluated frames at most ${widestGap(ctx, evaluated, labelled)} apart, labelled ones aside)` : '';
  ctx.stages.push({ stage: `decode ${node.size}x${node.size}${note}`, framesIn: ctx.frames, framesDecided: 0, seconds });
}

/** The scan's decode: reduced (-skip_frame noref) or every `step`-th frame, at the node's size. */
function openDecode(ctx: ExecutionContext, node: DecodeNode, grid: FrameGrid | undefined, reduced: boolean, stats: ReturnType<typeof emptyDecodeStats>, labelled: ReadonlySet<number>): AsyncIterable<FrameBatch> {
  const { handle, options, range } = ctx;
  const common = {
    timestamps: handle.timestamps,
    ...(handle.seekGap !== undefined ? { seekGap: handle.seekGap } : {}),
    batchSize: 256,
    ...(options.signal ? { signal: options.signal } : {}),
    ...ctx.session.ffmpegOptions(),
    ledger: ctx.counters.ledger,
    stats,
  };
  const size = { width: node.size, height: node.size };
  if (reduced) return firstOutput(decodeReduced(handle.row.path, { ...common, mode: 'noref', outputs: [size], start: range.start, end: range.end, exclude: (f) => labelled.has(f) }));
  return decodeFrames(handle.row.path, {
    ...common,
    ...size,
    range: { start: range.start, end: range.end, step: node.step },
    ...(grid ? { skip: grid } : {}),
    ...(handle.outputCost ? { outputCost: handle.outputCost } : {}),
  });
}

/** The widest distance between evaluated or labelled frames (the frame skip's effective gap). */
function widestGap(ctx: ExecutionContext, evaluated: Uint8Array, labelled: ReadonlySet<number>): number {
  let widest = 0;
  let since = 0;
  for (let i = 0; i < ctx.frames; i++) {
    if (labelled.has(ctx.range.start + i) || evaluated[i]) since = 0;
    else widest = Math.max(widest, ++since + 1);
  }
  return widest;
}

/** The first output of a multi-output decode. */
async function* firstOutput(source: AsyncIterable<FrameBatch[]>): AsyncGenerator<FrameBatch> {
  for await (const batches of source) yield batches[0]!;
}

/**
 * Whether the scan should decode with -skip_frame noref: measured once per video and frame skip
 * (the first 600 frames of the range read both ways: every `skip`-th frame selected, and noref),
 * stored, and used when it saves at least 10% and its widest gap between decoded frames is within
 * the frame skip (so the skip's error estimate still holds).
 */
async function chooseReducedDecode(ctx: ExecutionContext, skip: number): Promise<{ maxGap: number } | undefined> {
  const { handle, range, catalog } = ctx;
  const machine = machineKey();
  const key = `video:${handle.row.contentHash}:skip ${skip}`;
  let gap = (await catalog.findStageCost('decode-noref-gap', key, machine))?.secondsPerFrame;
  let ratio = (await catalog.findStageCost('decode-noref-ratio', key, machine))?.secondsPerFrame;
  if (gap === undefined || ratio === undefined) {
    const stretch = { start: range.start, end: Math.min(range.end, range.start + 600) };
    const ffmpeg = ctx.session.ffmpegOptions();
    try {
      const m = await measureReduced(handle.row.path, 'noref', {
        ...ffmpeg,
        ...stretch,
        timestamps: handle.timestamps,
        decodeAll: () => decodeFrames(handle.row.path, { ...ffmpeg, width: 32, height: 32, range: { ...stretch, step: skip }, batchSize: 128 }),
      });
      [gap, ratio] = [m.maxGap, m.costRatio];
    } catch (error) {
      if (!(error instanceof VideoError && error.code === 'DECODE_MODE_UNSUPPORTED')) throw error;
      [gap, ratio] = [Infinity, Infinity];
    }
    await catalog.putStageCost({ stageKind: 'decode-noref-gap', key, machine, secondsPerFrame: Number.isFinite(gap) ? gap : 1e9 });
    await catalog.putStageCost({ stageKind: 'decode-noref-ratio', key, machine, secondsPerFrame: Number.isFinite(ratio) ? ratio : 1e9 });
  }
  return gap <= skip && ratio < 0.9 ? { maxGap: gap } : undefined;
}

