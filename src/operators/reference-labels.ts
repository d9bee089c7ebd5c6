import { InterruptedError } from '../errors.js';
import type { Detection } from '../inference/detection.js';
import type { ReferenceDetector } from '../inference/reference-detector.js';
import type { Catalog } from '../storage/catalog.js';
import type { LabelledFrame } from '../storage/catalog-rows.js';
import { decodeFrameSet, type DecodeLedger, type DecodeOutput, type DecodeStats, type OutputCost } from '../video/decoder.js';
import type { FfmpegOptions } from '../video/ffmpeg-locator.js';
import type { FrameBatch } from '../video/frame.js';
import type { FrameGrid } from '../video/read-plan.js';

/** What one reference-labelled frame looks like to the operators above. */
export interface ReferenceFrame {
  readonly frame: number;
  readonly timestamp: number;
  readonly detections: readonly Detection[];
  /** True when the label came from the store, false when the detector ran for this query. */
  readonly fromStore: boolean;
}

export interface ReferenceScanContext {
  readonly catalog: Catalog;
  readonly videoId: number;
  readonly modelId: number;
  readonly path: string;
  readonly width: number;
  readonly height: number;
  /** Per-frame container timestamps of the whole video. */
  readonly timestamps: Float64Array;
  /** Loads the detector the first time a frame is missing from the store. */
  readonly detector: () => Promise<ReferenceDetector>;
  readonly ffmpeg?: FfmpegOptions;
  /** Gap in frames above which a keyframe seek beats decoding through (measured; default never). */
  readonly seekGap?: number;
  readonly outputCost?: OutputCost;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * Replay: the detector's labels for missing frames are looked up here instead of computed
   * (a catalog in which the same model labelled every frame), and stored as the detector's would
   * be. Only the compute is replayed; every decision above sees what a real run sees.
   */
  readonly replay?: ReplaySource;
}

/** Reference labels computed earlier, for replaying a query's decisions many times (accuracy checks). */
export interface ReplaySource {
  /** The stored detections of each of `frames` (ascending); throws when one was never labelled. */
  read(frames: Int32Array): Promise<Map<number, Detection[]>>;
  /**
   * Seconds the detector (with its decode) took per frame when the replay catalog was labelled:
   * each replayed frame adds it to `detectSeconds`, so the optimizer's measured reference cost is
   * the detector's, not the lookup's.
   */
  secondsPerFrame(): Promise<number>;
}

export interface ReferenceScanCounters {
  referenceCalls: number;
  labelsFromStore: number;
  framesDecoded: number;
  detectSeconds: number;
  /** Seconds spent waiting for decoded frames (decoding not hidden behind detection). */
  decodeWaitSeconds?: number;
  /** Frames decoded per size within the query (a repeat is a wasted decode). */
  readonly ledger?: DecodeLedger;
  /** The frames whose labels were read back from the store (a run's provenance names who wrote them). */
  readonly storeFrames?: Set<number>;
  readonly decode?: DecodeStats;
}

export interface ReferenceScanOptions {
  /**
   * Also decode every frame of the scan (labelled ones too) at these sizes, in the same ffmpeg
   * pass as the detector's input, and hand them over in frame order (a training sample's
   * thumbnails come from the read that labels it).
   */
  readonly thumbnails?: { readonly outputs: readonly DecodeOutput[]; readonly onBatch: (batches: readonly FrameBatch[]) => void };
  /** Frames never to decode (a grid this query has labelled already). */
  readonly skip?: FrameGrid;
  readonly chunkFrames?: number;
}

/**
 * Yields reference labels for `frames` (ascending) in order, in chunks: labels already in the
 * store are read back, missing frames are decoded in one ffmpeg pass, run through the detector
 * and written to the store batch by batch (each batch atomic), so an interrupted scan resumes
 * where it stopped. The consumer may stop early (LIMIT): nothing more is decoded or detected.
 */
export async function* referenceScan(
  ctx: ReferenceScanContext,
  frames: Int32Array,
  counters: ReferenceScanCounters,
  options: ReferenceScanOptions = {},
): AsyncGenerator<ReferenceFrame[]> {
  if (frames.length === 0) return;
  const chunkFrames = options.chunkFrames ?? 256;
  const first = frames[0]!;
  const last = frames[frames.length - 1]!;
  const stored = new Set(await ctx.catalog.labelledFrames(ctx.videoId, ctx.modelId, { start: first, end: last + 1 }));
  const missing = frames.filter((f) => !stored.has(f));
  let detected = 0;
  ctx.onProgress?.(0, missing.length);
  let fresh: AsyncIterator<LabelledFrame[]> | undefined;
  const pending: LabelledFrame[] = [];
  try {
    for (let i = 0; i < frames.length; i += chunkFrames) {
      if (ctx.signal?.aborted) throw new InterruptedError();
      const chunk = frames.subarray(i, i + chunkFrames);
      const lo = chunk[0]!;
      const hi = chunk[chunk.length - 1]!;
      const fromStore = new Map<number, Detection[]>();
      if (chunk.some((f) => stored.has(f))) {
        for (const row of await ctx.catalog.readDetections(ctx.videoId, ctx.modelId, { start: lo, end: hi + 1 })) {
          let list = fromStore.get(row.frame);
          if (!list) fromStore.set(row.frame, (list = []));
          list.push(row);
        }
      }
      const out: ReferenceFrame[] = [];
      for (const f of chunk) {
        if (stored.has(f)) {
          counters.labelsFromStore++;
          counters.storeFrames?.add(f);
          out.push({ frame: f, timestamp: ctx.timestamps[f] ?? Number.NaN, detections: fromStore.get(f) ?? [], fromStore: true });
          continue;
        }
        while (pending.length === 0 || pending[0]!.frame < f) {
          if (pending.length > 0) pending.shift();
          else {
            fresh ??= detectMissing(ctx, frames, missing, counters, options);
            const next = await fresh.next();
            if (next.done) throw new Error(`internal: frame ${f} was not decoded`);
            pending.push(...next.value);
            detected += next.value.length;
            ctx.onProgress?.(detected, missing.length);
          }
        }
        const got = pending.shift()!;
        out.push({ ...got, fromStore: false });
      }
      yield out;
    }
    if (options.thumbnails) {
      // Thumbnails of labelled frames after the last missing one are still to come.
      fresh ??= detectMissing(ctx, frames, missing, counters, options);
      while (!(await fresh.next()).done) {
        // drained for its thumbnails
      }
    }
  } finally {
    await fresh?.return?.(undefined);
  }
}

async function* detectMissing(
  ctx: ReferenceScanContext,
  frames: Int32Array,
  missing: Int32Array,
  counters: ReferenceScanCounters,
  options: ReferenceScanOptions,
): AsyncGenerator<LabelledFrame[]> {
  if (ctx.replay) {
    yield* replayMissing(ctx, ctx.replay, frames, missing, counters, options);
    return;
  }
  const thumbnails = options.thumbnails;
  const detector = missing.length > 0 ? await ctx.detector() : undefined;
  const size = detector?.decodeSize(ctx.width, ctx.height);
  const outputs: DecodeOutput[] = [...(size ? [size] : []), ...(thumbnails?.outputs ?? [])];
  if (outputs.length === 0) return;
  const toDetect = new Set(thumbnails ? missing : []);
  const decode = decodeFrameSet(ctx.path, {
    ...ctx.ffmpeg,
    outputs,
    frames: { kind: 'list', frames: thumbnails ? frames : missing, ...(options.skip ? { skip: options.skip } : {}) },
    timestamps: ctx.timestamps,
    ...(ctx.seekGap !== undefined ? { seekGap: ctx.seekGap } : {}),
    ...(ctx.outputCost ? { outputCost: ctx.outputCost } : {}),
    batchSize: 8,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(counters.ledger ? { ledger: counters.ledger } : {}),
    ...(counters.decode ? { stats: counters.decode } : {}),
  });
  // Driven by hand (next), so closed by hand: a consumer that stops early (a LIMIT) must not
  // leave ffmpeg blocked on its pipe, which also keeps the process from exiting.
  try {
    for (;;) {
      const waited = performance.now();
      const next = await decode.next();
      counters.decodeWaitSeconds = (counters.decodeWaitSeconds ?? 0) + (performance.now() - waited) / 1000;
      if (next.done) break;
      const batches = next.value;
      counters.framesDecoded += batches[0]!.count;
      if (thumbnails) thumbnails.onBatch(size ? batches.slice(1) : batches);
      if (!detector || !size) {
        yield [];
        continue;
      }
      const batch = thumbnails ? pick(batches[0]!, (f) => toDetect.has(f)) : batches[0]!;
      if (batch.count === 0) {
        yield [];
        continue;
      }
      const started = performance.now();
      const detections = await detector.detect(batch, { width: ctx.width, height: ctx.height });
      counters.detectSeconds += (performance.now() - started) / 1000;
      const labelled: LabelledFrame[] = [];
      for (let i = 0; i < batch.count; i++) {
        const frame = batch.frames[i]!;
        labelled.push({ frame, timestamp: ctx.timestamps[frame] ?? batch.timestamps[i]!, detections: detections[i]! });
      }
      await ctx.catalog.writeLabels(ctx.videoId, ctx.modelId, labelled);
      counters.referenceCalls += batch.count;
      yield labelled;
    }
  } finally {
    await decode.return(undefined);
  }
}

/**
 * `detectMissing` with the detector's labels replayed: nothing is decoded at the detector's size
 * (thumbnails still are, from the same frame list), the labels are written to the store as the
 * detector's would be, and each counts as a reference call.
 */
async function* replayMissing(
  ctx: ReferenceScanContext,
  replay: ReplaySource,
  frames: Int32Array,
  missing: Int32Array,
  counters: ReferenceScanCounters,
  options: ReferenceScanOptions,
): AsyncGenerator<LabelledFrame[]> {
  const label = async (list: Int32Array): Promise<LabelledFrame[]> => {
    if (list.length === 0) return [];
    const found = await replay.read(list);
    counters.detectSeconds += list.length * (await replay.secondsPerFrame());
    const labelled = Array.from(list, (frame) => ({ frame, timestamp: ctx.timestamps[frame] ?? Number.NaN, detections: found.get(frame) ?? [] }));
    await ctx.catalog.writeLabels(ctx.videoId, ctx.modelId, labelled);
    counters.referenceCalls += list.length;
    return labelled;
  };
  const thumbnails = options.thumbnails;
  if (!thumbnails) {
    for (let i = 0; i < missing.length; i += 64) {
      if (ctx.signal?.aborted) throw new InterruptedError();
      yield await label(missing.subarray(i, i + 64));
    }
    return;
  }
  const wanted = new Set(missing);
  const decode = decodeFrameSet(ctx.path, {
    ...ctx.ffmpeg,
    outputs: thumbnails.outputs,
    frames: { kind: 'list', frames, ...(options.skip ? { skip: options.skip } : {}) },
    timestamps: ctx.timestamps,
    ...(ctx.seekGap !== undefined ? { seekGap: ctx.seekGap } : {}),
    batchSize: 8,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(counters.ledger ? { ledger: counters.ledger } : {}),
    ...(counters.decode ? { stats: counters.decode } : {}),
  });
  for await (const batches of decode) {
    counters.framesDecoded += batches[0]!.count;
    thumbnails.onBatch(batches);
    yield await label(batches[0]!.frames.filter((f) => wanted.has(f)));
  }
}

/** The frames of a batch that pass `keep`, copied into a batch of their own. */
function pick(batch: FrameBatch, keep: (frame: number) => boolean): FrameBatch {
  const idx: number[] = [];
  for (let i = 0; i < batch.count; i++) if (keep(batch.frames[i]!)) idx.push(i);
  if (idx.length === batch.count) return batch;
  const bytes = batch.width * batch.height * 3;
  const data = new Uint8Array(idx.length * bytes);
  idx.forEach((i, k) => data.set(batch.data.subarray(i * bytes, (i + 1) * bytes), k * bytes));
  return {
    width: batch.width,
    height: batch.height,
    count: idx.length,
    frames: Int32Array.from(idx, (i) => batch.frames[i]!),
    timestamps: Float64Array.from(idx, (i) => batch.timestamps[i]!),
    data,
  };
}
