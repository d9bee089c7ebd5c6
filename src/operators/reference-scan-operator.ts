import { InterruptedError } from '../errors.js';
import type { Detection } from '../inference/detection.js';
import type { ReferenceDetector } from '../inference/reference-detector.js';
import type { Catalog } from '../storage/catalog.js';
import type { LabelledFrame } from '../storage/catalog-rows.js';
import { decodeFrames } from '../video/decoder.js';
import type { FfmpegOptions } from '../video/ffmpeg-locator.js';

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
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReferenceScanCounters {
  referenceCalls: number;
  labelsFromStore: number;
  framesDecoded: number;
  detectSeconds: number;
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
  chunkFrames = 256,
): AsyncGenerator<ReferenceFrame[]> {
  if (frames.length === 0) return;
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
          out.push({ frame: f, timestamp: ctx.timestamps[f] ?? Number.NaN, detections: fromStore.get(f) ?? [], fromStore: true });
          continue;
        }
        while (pending.length === 0 || pending[0]!.frame < f) {
          if (pending.length > 0) pending.shift();
          else {
            fresh ??= detectMissing(ctx, missing, counters);
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
  } finally {
    await fresh?.return?.(undefined);
  }
}

async function* detectMissing(ctx: ReferenceScanContext, missing: Int32Array, counters: ReferenceScanCounters): AsyncGenerator<LabelledFrame[]> {
  const detector = await ctx.detector();
  const size = detector.decodeSize(ctx.width, ctx.height);
  for await (const batch of decodeFrames(ctx.path, { ...ctx.ffmpeg, width: size.width, height: size.height, frames: missing, batchSize: 8, scaler: 'bilinear', signal: ctx.signal })) {
    counters.framesDecoded += batch.count;
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
}
