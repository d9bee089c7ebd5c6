/**
 * The per-video index (TASTI / Focus: built once, independent of the query): reference labels on
 * the evenly spaced sample the cascades draw (`sampleStep` of the whole video, so their later
 * samples are read from the label store), and per class a count model trained on it, whose
 * expected count on every frame is stored as a signal. A query that needs a class the index lacks
 * adds it; nothing is thrown away. Signals are written in one transaction: an interrupted build
 * leaves the index as it was (its sample labels stay in the store, as any scan's do).
 */
import type { ProgressEvent, StageStats } from '../engine-types.js';
import type { VideoHandle } from '../engine-session.js';
import { InterruptedError } from '../errors.js';
import { SpecializedModel } from '../inference/specialized-model.js';
import type { ReferenceScanContext, ReferenceScanCounters } from '../operators/reference-labels.js';
import { referenceScan } from '../operators/reference-labels.js';
import { ARCHITECTURES, CASCADE_SEED } from '../optimizer/cascade-statistics.js';
import type { Catalog } from '../storage/catalog.js';
import type { IndexSignalRow, ModelRow } from '../storage/catalog-rows.js';
import { MAX_EPOCHS } from '../training/cascade-calibration.js';
import { trainModel } from '../training/trainer.js';
import { decodeFrames, type DecodeStats } from '../video/decoder.js';
import type { FfmpegOptions } from '../video/ffmpeg-locator.js';
import type { FrameBatch } from '../video/frame.js';
import { countSignal, indexSample } from './index-sample.js';

/** The index's count models: the larger candidate (small objects survive 64px better than 32px). */
export const INDEX_ARCHITECTURE = ARCHITECTURES[ARCHITECTURES.length - 1]!;

/** What building or reading an index needs: the video, the reference, and where to report. */
export interface IndexTarget {
  readonly catalog: Catalog;
  readonly handle: VideoHandle;
  readonly model: ModelRow;
  readonly labels: readonly string[];
  readonly scan: (phase: string, label: string) => ReferenceScanContext;
  readonly ffmpeg: FfmpegOptions;
  readonly counters: ReferenceScanCounters;
  readonly decodeStats?: DecodeStats;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** What one index signal's row holds as metrics. */
export interface SignalMetrics {
  readonly sampleStep: number;
  readonly sampleFrames: number;
  /** Sample frames with at least one object of the class, and the largest count. */
  readonly positives: number;
  readonly maxCount: number;
  /** Mean absolute error of the expected count on the trainer's held-out time blocks, and of predicting the mean. */
  readonly heldOutError: number | null;
  readonly baselineError: number | null;
  readonly trainSeconds: number;
}

export interface IndexResult {
  /** Each requested class's expected count on every frame of the video. */
  readonly counts: Map<number, Float32Array>;
  readonly reused: string[];
  readonly added: string[];
  readonly stages: StageStats[];
}

/** The signals of `classIds`, read from the index, the missing ones built and added first. */
export async function ensureIndex(t: IndexTarget, classIds: readonly number[]): Promise<IndexResult> {
  const stored = new Map((await t.catalog.indexSignals(t.handle.row.id, t.model.id)).map((s) => [s.classId, s] as const));
  const counts = new Map<number, Float32Array>();
  const reused: string[] = [];
  for (const c of classIds) {
    const s = stored.get(c);
    if (s && s.values.length === t.handle.row.frameCount) {
      counts.set(c, s.values);
      reused.push(s.signal);
    }
  }
  const missing = classIds.filter((c) => !counts.has(c));
  if (missing.length === 0) return { counts, reused, added: [], stages: [] };
  const built = await buildSignals(t, missing);
  await t.catalog.transaction(async () => {
    for (const s of built.signals) await t.catalog.putIndexSignal(s);
  });
  for (const s of built.signals) counts.set(s.classId, s.values);
  return { counts, reused, added: built.signals.map((s) => s.signal), stages: built.stages };
}

/** The index's signals as stored (for EXPLAIN and `sieve index`). */
export async function storedSignals(catalog: Catalog, videoId: number, modelId: number): Promise<IndexSignalRow[]> {
  return catalog.indexSignals(videoId, modelId);
}

type BuiltSignal = Omit<IndexSignalRow, 'createdAt' | 'runId'>;

async function buildSignals(t: IndexTarget, classIds: readonly number[]): Promise<{ signals: BuiltSignal[]; stages: StageStats[] }> {
  const stages: StageStats[] = [];
  const size = INDEX_ARCHITECTURE.inputSize;
  const { step, frames } = indexSample(t.handle.row.frameCount);
  // 1. The sample's labels and thumbnails, in one read.
  const bytes = size * size * 3;
  const images = new Uint8Array(frames.length * bytes);
  const truth = classIds.map(() => new Float32Array(frames.length));
  let started = performance.now();
  const calls = t.counters.referenceCalls;
  const thumbnails = {
    outputs: [{ width: size, height: size }],
    onBatch: (batches: readonly FrameBatch[]) => {
      const b = batches[0]!;
      for (let i = 0; i < b.count; i++) images.set(b.data.subarray(i * bytes, (i + 1) * bytes), (b.frames[i]! / step) * bytes);
    },
  };
  for await (const chunk of referenceScan(t.scan('sample', 'labelling the index sample'), frames, t.counters, { thumbnails })) {
    for (const f of chunk) {
      const at = f.frame / step;
      for (const d of f.detections) {
        const c = classIds.indexOf(d.classId);
        if (c >= 0) truth[c]![at]!++;
      }
    }
  }
  stages.push({ stage: 'index sample (reference)', framesIn: frames.length, framesDecided: t.counters.referenceCalls - calls, seconds: (performance.now() - started) / 1000 });
  // 2. One count model per class.
  const trained: { classId: number; onnx: Uint8Array; metrics: SignalMetrics }[] = [];
  for (const [c, classId] of classIds.entries()) {
    if (t.signal?.aborted) throw new InterruptedError();
    started = performance.now();
    const labels = truth[c]!;
    let positives = 0;
    let maxCount = 0;
    for (const v of labels) {
      if (v > 0) positives++;
      maxCount = Math.max(maxCount, v);
    }
    const base = { sampleStep: step, sampleFrames: frames.length, positives, maxCount };
    if (positives === 0) {
      // Never seen in the sample: the signal is 0 everywhere (no model to train).
      trained.push({ classId, onnx: new Uint8Array(0), metrics: { ...base, heldOutError: null, baselineError: null, trainSeconds: 0 } });
      continue;
    }
    const label = t.labels[classId] ?? String(classId);
    const onProgress = t.onProgress;
    const model = await trainModel(
      { images, width: size, height: size, labels, frames },
      {
        task: { kind: 'count', maxCount: Math.max(1, Math.min(20, maxCount)) },
        architecture: INDEX_ARCHITECTURE,
        seed: CASCADE_SEED,
        maxEpochs: MAX_EPOCHS,
        patience: 6,
        split: { test: 0.15 },
        provenance: { video: t.handle.row.path, labelSource: t.model.name, target: `index ${countSignal(label)}`, frameStep: step },
        ...(onProgress ? { onProgress: (p) => onProgress({ phase: 'train', label: `index: ${label} count model`, done: p.epoch, total: p.maxEpochs, unit: 'steps' }) } : {}),
        ...(t.signal ? { signal: t.signal } : {}),
      },
    );
    const held = model.metrics.heldOut;
    const seconds = (performance.now() - started) / 1000;
    trained.push({ classId, onnx: model.onnx, metrics: { ...base, heldOutError: held.meanAbsoluteError ?? null, baselineError: held.baselineMeanAbsoluteError ?? null, trainSeconds: seconds } });
    stages.push({ stage: `index: train ${label} count model ${size}px`, framesIn: frames.length, framesDecided: 0, seconds });
  }
  // 3. Every frame of the video scored by every new model, in one decode pass.
  const values = await scoreVideo(t, trained, stages);
  const signals = trained.map((m, i) => ({
    videoId: t.handle.row.id,
    referenceModelId: t.model.id,
    signal: countSignal(t.labels[m.classId] ?? String(m.classId)),
    classId: m.classId,
    architecture: INDEX_ARCHITECTURE,
    onnx: m.onnx,
    values: values[i]!,
    metrics: m.metrics,
  }));
  return { signals, stages };
}

async function scoreVideo(t: IndexTarget, trained: readonly { onnx: Uint8Array }[], stages: StageStats[]): Promise<Float32Array[]> {
  const N = t.handle.row.frameCount;
  const size = INDEX_ARCHITECTURE.inputSize;
  const values = trained.map(() => new Float32Array(N));
  const models = await Promise.all(trained.map((m) => (m.onnx.length > 0 ? SpecializedModel.load(m.onnx) : undefined)));
  const started = performance.now();
  let decoded = 0;
  const onScan = t.onProgress;
  try {
    const options = { width: size, height: size, timestamps: t.handle.timestamps, batchSize: 64, ...t.ffmpeg, ...(t.decodeStats ? { stats: t.decodeStats } : {}), ...(t.signal ? { signal: t.signal } : {}) };
    for await (const batch of decodeFrames(t.handle.row.path, options)) {
      for (const [i, m] of models.entries()) {
        if (!m) continue;
        const out = await m.score(batch);
        for (let j = 0; j < batch.count; j++) values[i]![batch.frames[j]!] = out[j]!;
      }
      decoded += batch.count;
      t.counters.framesDecoded += batch.count;
      onScan?.({ phase: 'scan', label: 'index: scoring every frame', done: decoded, total: N, unit: 'frames' });
    }
  } finally {
    for (const m of models) await m?.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  stages.push({ stage: `index: decode ${size}x${size} and score every frame (${models.filter(Boolean).length} model${models.filter(Boolean).length === 1 ? '' : 's'})`, framesIn: N, framesDecided: 0, seconds });
  if (decoded < N) throw new Error(`internal: the index decode read ${decoded} of ${N} frames`);
  return values;
}
