/**
 * The NoScope / BlazeIt cascade: a labelled sample, a specialized model trained on it, thresholds
 * calibrated on held-out labelled frames, then every frame in range through
 * skip -> difference detector -> specialized model -> reference detector (uncertain frames only).
 * Aggregates use the model as a control variate with a random sample of reference labels.
 */
import { compileObjectPredicate, DEFAULT_CONFIDENCE, type BoundQuery } from './binder/index.js';
import type { Engine, QueryOptions, VideoHandle } from './engine.js';
import type { AccuracyReport, QueryResult, ResultRow, ResultValue, StageStats } from './engine-types.js';
import type { Detection } from './inference/detection.js';
import { SpecializedModel } from './inference/specialized-model.js';
import { machineKey } from './machine.js';
import { createAnswerOperator, frameSelectionRows } from './operators/answer-operator.js';
import { distance } from './operators/difference-detector.js';
import { chooseDifferenceDetector, type DifferenceChoice } from './optimizer/difference-choice.js';
import { referenceScan, type ReferenceScanCounters } from './operators/reference-scan-operator.js';
import { calibrateInterpolation, netCandidates, STAGE_BUDGET_SHARE, calibratePresence, skipErrorRate, type InterpolationCalibration, type PresenceThresholds } from './optimizer/calibration.js';
import { neighbourVariance, sampleStratified } from './optimizer/count-estimator.js';
import { probit } from 'simple-statistics';
import { frameList } from './plan/frame-selection.js';
import type { ModelRow } from './storage/catalog-rows.js';
import { Random } from './training/random.js';
import { timeSplit, trainModel, type Architecture, type TrainedModel } from './training/trainer.js';
import { addDecodeStats, decodeFrames, emptyDecodeStats } from './video/decoder.js';
import { FrameLedger, decodeSummary } from './video/decode-ledger.js';
import { decodeReduced, measureReduced } from './video/reduced-decode.js';
import { VideoError } from './errors.js';
import { detectorInputKey, loadDecodeCosts, outputKey, recordDecodeCosts, recordOutputCost } from './optimizer/decode-cost.js';
import type { FrameBatch } from './video/frame.js';
import type { FrameGrid } from './video/read-plan.js';

export type CascadeTask = 'presence' | 'count';

/** Relative cost difference below which two plans are a tie (measured timings vary more than this between identical runs). */
const COST_TIE = 0.1;

/** Which cascade answers a query, or undefined when only the exact path can. */
/**
 * The catalog key of a trained cascade: the task, the predicate, and for presence the FNR/FPR
 * targets its thresholds were calibrated for (a cascade calibrated for 0.05 does not promise
 * 0.001). A count's stored model is target-free: each run samples to its own interval.
 */
export function cascadeKey(task: CascadeTask, query: BoundQuery): string {
  const targets = task === 'presence' ? `:fnr=${query.accuracy.fnr}:fpr=${query.accuracy.fpr}` : '';
  return `${task}:${JSON.stringify(query.where)}${targets}`;
}

export function cascadeTaskFor(query: BoundQuery): CascadeTask | undefined {
  switch (query.shape) {
    case 'select-frames':
    case 'select-rows':
      return 'presence';
    case 'aggregate': {
      const fns = new Set(query.outputs.map((o) => o.aggregate.fn));
      if ([...fns].every((f) => f === 'fcount' || f === 'count')) return 'count';
      if (fns.size === 1 && fns.has('count-distinct-frames')) return 'presence';
      return undefined;
    }
    case 'grouped-limit':
      return undefined;
  }
}

/** Everything the optimizer decided, stored with the trained model so the next run is warm. */
export interface CascadeParams {
  readonly task: CascadeTask;
  readonly architecture: Omit<Architecture, 'inputSize'> & { inputSize: number };
  /** Frames of the training sample, and every how many frames it was taken. */
  readonly sampleStep: number;
  readonly trainingFrames: readonly number[];
  readonly skip: number;
  readonly difference: DifferenceChoice | undefined;
  readonly thresholds: PresenceThresholds | undefined;
  /** Presence: answers between two agreeing labelled frames, and whether the model's net checks them. */
  readonly interpolation: (InterpolationCalibration & { readonly net: boolean }) | undefined;
  /** Count: frames the stratified random sample drew (labelled for the estimate, not exact frames). */
  readonly estimationFrames: readonly number[];
  readonly heldOut: Readonly<Record<string, number>>;
  readonly costs: Readonly<Record<string, number>>;
  readonly trainSeconds: number;
}

/** Stage costs in seconds per frame, measured on this machine (assumed where not yet measured). */
interface Costs {
  reference: number;
  decode: number;
  specialized: number;
  difference: number;
  trainPerImageEpoch: number;
  assumed: string[];
}

const ARCHITECTURES: readonly (Omit<Architecture, 'inputSize'> & { inputSize: number })[] = [
  { convBlocks: 2, baseFilters: 16, dense: 32, inputSize: 32 },
  { convBlocks: 3, baseFilters: 32, dense: 64, inputSize: 64 },
];
const GRID = 4;
const SEED = 20261123;

interface Counters extends ReferenceScanCounters {
  /** A grid of frames labelled in range, which no reference pass needs to decode. */
  grid?: FrameGrid;
}

export interface CascadeOutcome {
  readonly result: QueryResult;
  readonly planJson: unknown;
}

/**
 * Runs the query through the cascade, or says why not when the optimizer finds the reference
 * detector on every frame cheaper, or no cascade it trained meets the accuracy targets (the
 * caller then runs the exact plan).
 */
export async function runCascade(
  engine: Engine,
  query: BoundQuery,
  task: CascadeTask,
  handle: VideoHandle,
  model: ModelRow,
  start: number,
  end: number,
  options: QueryOptions,
  started: number,
): Promise<CascadeOutcome | { readonly fallback: string }> {
  const catalog = engine.catalog;
  const N = end - start;
  const key = { videoId: handle.row.id, referenceModelId: model.id, predicateKey: cascadeKey(task, query), kind: task };
  const stored = await catalog.findSpecializedModel(key);
  const costs = await loadCosts(engine, handle);
  const labelledCount = await catalog.countLabelled(handle.row.id, model.id, { start, end });
  const counters: Counters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0, ledger: new FrameLedger(handle.row.frameCount), decode: emptyDecodeStats() };
  // Sample frames decoded at each candidate model size while the sample was labelled (cold runs).
  const thumbs = new Map<number, Uint8Array>();
  const stages: StageStats[] = [];
  const progress = (phase: string, label: string) =>
    options.onProgress ? (done: number, total: number) => options.onProgress!({ phase, label, done, total, unit: 'frames' }) : undefined;
  const labels = (await engine.referenceModel()).manifest.labels;
  const where = compileObjectPredicate(query.where);
  const truthOf = (detections: readonly Detection[], frame: number, timestamp: number): number => {
    let n = 0;
    for (const d of detections) if (where({ frame, timestamp, ...d })) n++;
    return task === 'presence' ? (n > 0 ? 1 : 0) : n;
  };

  let params: CascadeParams;
  let onnx: Uint8Array;
  if (stored) {
    params = stored.metrics as CascadeParams;
    onnx = stored.onnx;
  } else {
    // ---- plan: is a cascade worth training here? ----
    const nTarget = Math.min(N, Math.max(150, Math.min(500, Math.round(N / 6))));
    const step = Math.max(1, Math.floor(N / nTarget));
    const sample = frameList(start, end, step);
    const sampleMissing = Math.max(0, sample.length - Math.min(labelledCount, sample.length));
    const naiveCost = (N - labelledCount) * costs.reference;
    const cascadeCost = sampleMissing * costs.reference + sample.length * 30 * costs.trainPerImageEpoch * ARCHITECTURES.length + N * (costs.decode + costs.specialized) + 0.15 * (N - sample.length) * costs.reference;
    if (cascadeCost >= naiveCost) return { fallback: `labelling the ${N - labelledCount} unlabelled frames (${fmt(naiveCost)} s estimated) is cheaper than sampling, training and a cascade (${fmt(cascadeCost)} s)` };

    // ---- the labelled sample ----
    const truthByFrame = new Map<number, number>();
    for (const arch of ARCHITECTURES) thumbs.set(arch.inputSize, new Uint8Array(sample.length * arch.inputSize * arch.inputSize * 3));
    // One read of the file per sample pass: the detector's input for unlabelled frames and every
    // candidate model's thumbnails come out of the same ffmpeg process.
    const thumbnails = {
      outputs: ARCHITECTURES.map((a) => ({ width: a.inputSize, height: a.inputSize })),
      onBatch: (batches: readonly FrameBatch[]) => {
        for (const b of batches) {
          const bytes = b.width * b.height * 3;
          const into = thumbs.get(b.width)!;
          for (let i = 0; i < b.count; i++) into.set(b.data.subarray(i * bytes, (i + 1) * bytes), ((b.frames[i]! - start) / step) * bytes);
        }
      },
    };
    const labelSample = async (frames: Int32Array, stage: string) => {
      const sampleStarted = performance.now();
      const calls = counters.referenceCalls;
      for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal, progress('sample', 'labelling sample')), frames, counters, { thumbnails })) {
        for (const f of chunk) truthByFrame.set(f.frame, truthOf(f.detections, f.frame, f.timestamp));
      }
      stages.push({ stage, framesIn: frames.length, framesDecided: counters.referenceCalls - calls, seconds: (performance.now() - sampleStarted) / 1000 });
      if (counters.referenceCalls > 0) costs.reference = (counters.detectSeconds + (counters.decodeWaitSeconds ?? 0)) / counters.referenceCalls;
    };
    // A count first labels a third of the sample: enough to tell whether a model is worth training.
    const pilot = task === 'count' ? frameList(start, end, step * 3) : sample;
    await labelSample(pilot, task === 'count' ? 'pilot sample (reference)' : 'sample (reference)');

    // ---- count: would plain stratified sampling cost less than training could ever save? ----
    const plain = task === 'count'
      ? plainSamplingPlan(query, Float32Array.from(pilot, (f) => truthByFrame.get(f)!), N, Math.max(0, N - labelledCount - pilot.length), costs, sample.length)
      : undefined;
    if (task === 'count' && !plain?.cheaper) await labelSample(sample.filter((f) => !truthByFrame.has(f)), 'training sample (reference)');
    if (plain?.cheaper) thumbs.clear();
    const truth = Float32Array.from(sample, (f) => truthByFrame.get(f)!);
    const inputKey = detectorInputKey(handle.row.width, handle.row.height);
    await recordOutputCost(catalog, inputKey, machineKey(), counters.decodeWaitSeconds ?? 0, counters.framesDecoded);
    if (plain?.cheaper) {
      params = {
        task,
        architecture: ARCHITECTURES[0]!,
        sampleStep: step,
        trainingFrames: [],
        estimationFrames: [],
        skip: 1,
        difference: undefined,
        thresholds: undefined,
        interpolation: undefined,
        heldOut: { frames: 0, controlVariate: 0, blockTruthVariance: plain.variance, specializedModel: 0 },
        costs: { reference: costs.reference },
        trainSeconds: 0,
      };
      onnx = new Uint8Array(0);
      stages.push({ stage: `plan: no specialized model (about ${Math.round(plain.labels)} random labels, ${fmt(plain.labels * costs.reference)} s, against ${fmt(plain.training)} s to train one)`, framesIn: 0, framesDecided: 0, seconds: 0 });
      await catalog.putSpecializedModel({ ...key, architecture: null, onnx, manifest: null, metrics: params });
    } else {
    // ---- train candidates, calibrate on held-out later blocks, pick by expected cost ----
    const trainStarted = performance.now();
    const trainIdx: number[] = [];
    const estimationIdx: number[] = [];
    if (task === 'count') sample.forEach((_, i) => (i % 2 === 0 ? trainIdx : estimationIdx).push(i));
    else sample.forEach((_, i) => trainIdx.push(i));
    const maxCount = Math.max(1, Math.min(20, Math.max(...truth)));
    const considered: string[] = [];
    let best: { arch: (typeof ARCHITECTURES)[number]; trained: TrainedModel; calib: Omit<CascadeParams, 'trainSeconds' | 'costs' | 'estimationFrames' | 'trainingFrames' | 'sampleStep' | 'task' | 'architecture'>; cost: number; cnnCost: number; decodeCost: number } | undefined;
    for (const arch of ARCHITECTURES) {
      const images = thumbs.get(arch.inputSize)!;
      const decodeCost = costs.decode;
      const sub = (idx: readonly number[]) => {
        const size = arch.inputSize * arch.inputSize * 3;
        const out = new Uint8Array(idx.length * size);
        idx.forEach((i, k) => out.set(images.subarray(i * size, (i + 1) * size), k * size));
        return out;
      };
      const trained = await trainModel(
        { images: sub(trainIdx), width: arch.inputSize, height: arch.inputSize, labels: Float32Array.from(trainIdx, (i) => truth[i]!), frames: Int32Array.from(trainIdx, (i) => sample[i]!) },
        {
          task: task === 'presence' ? { kind: 'presence' } : { kind: 'count', maxCount },
          architecture: arch,
          seed: SEED,
          maxEpochs: 30,
          patience: 6,
          split: { test: task === 'presence' ? 0.25 : 0.15 },
          provenance: { video: handle.row.path, labelSource: (await engine.referenceModel()).manifest.name, target: key.predicateKey, frameStep: step },
          onProgress: options.onProgress
            ? (p) => options.onProgress!({ phase: 'train', label: `training ${arch.inputSize}px model`, done: p.epoch, total: p.maxEpochs, unit: 'steps' })
            : undefined,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      costs.trainPerImageEpoch = 1 / Math.max(1, trained.timing.imagesPerSecond);
      const specialized = await SpecializedModel.load(trained.onnx);
      const scoreStarted = performance.now();
      const scores = await specialized.score({ width: arch.inputSize, height: arch.inputSize, count: sample.length, frames: sample, timestamps: new Float64Array(sample.length), data: images });
      const cnnCost = (performance.now() - scoreStarted) / 1000 / Math.max(1, sample.length);
      await specialized.dispose();
      // Held-out: presence, the later time blocks the trainer never saw; count, the interleaved half.
      const heldIdx = task === 'presence' ? Array.from(timeSplit(Int32Array.from(sample), { test: 0.25 }).test) : estimationIdx;
      const heldScores = heldIdx.map((i) => scores[i]!);
      const heldTruth = heldIdx.map((i) => truth[i]!);
      // Difference detectors, measured on the sample (consecutive sample frames are `step` apart).
      let changes = 0;
      for (let i = 1; i < sample.length; i++) if (truth[i] !== truth[i - 1]) changes++;
      // Frame skip and the difference detector may each add a quarter of the tighter target.
      const budget = task === 'presence' ? Math.min(query.accuracy.fnr, query.accuracy.fpr) : 0;
      const skip = [5, 3, 2, 1].find((k) => skipErrorRate(changes, (sample.length - 1) * step, k) <= budget / 4) ?? 1;
      const skipError = skipErrorRate(changes, (sample.length - 1) * step, skip);
      // (Counts score every frame, so only presence uses a difference detector.)
      const difference = task === 'count' ? undefined : chooseDifferenceDetector({ images, size: arch.inputSize, truth: Float32Array.from(truth, (y) => (y > 0 ? 1 : 0)), modelSeconds: cnnCost, grid: GRID, errorBudget: budget / 4 });
      const cheapStagesError = skipError + (difference?.enabled ? difference.errorRate : 0);
      const heldOut: Record<string, number> = { frames: heldIdx.length };
      // Presence: one option per safety-net margin; count: one option.
      const choices: { thresholds?: PresenceThresholds; interpolation?: InterpolationCalibration & { net: boolean }; uncertain: number; heldOut: Record<string, number> }[] = [];
      if (task === 'presence') {
        const model = calibratePresence(heldScores, heldTruth, { fnr: query.accuracy.fnr, fpr: query.accuracy.fpr });
        // Frames in gaps whose two labelled ends disagree go to the reference, and so do flagged ones.
        const disagreeing = (changes * (step - 1)) / Math.max(1, N - sample.length);
        for (const net of netCandidates(truth, scores, { scores: heldScores, truth: heldTruth }, query.accuracy)) {
          const thresholds = { ...model, cLow: net.cLow, cHigh: net.cHigh };
          const interp = calibrateInterpolation(truth, scores, thresholds);
          const uncertain = Math.min(1, disagreeing + net.flagged);
          choices.push({
            thresholds,
            interpolation: { ...interp, net: true },
            uncertain,
            heldOut: {
              ...heldOut,
              fnr: net.fnr + cheapStagesError,
              fpr: net.fpr + cheapStagesError,
              skipAndDifferenceError: cheapStagesError,
              netMargin: net.margin,
              interpolationErrors: net.errors,
              missedByNet: net.missed,
              uncertain,
              positives: model.positives,
              negatives: model.negatives,
              interpolationFrames: interp.agreeing,
              modelFnr: model.fnr,
              modelFpr: model.fpr,
            },
          });
        }
      } else {
        let abs = 0;
        let base = 0;
        const mean = heldTruth.reduce((a, b) => a + b, 0) / Math.max(1, heldTruth.length);
        heldIdx.forEach((_, k) => {
          abs += Math.abs(heldScores[k]! - heldTruth[k]!);
          base += Math.abs(mean - heldTruth[k]!);
        });
        // Pilot for the stratified estimate: how much the value (or the model's residual) varies
        // between neighbouring held-out frames, i.e. inside a short time block.
        const truthVariance = neighbourVariance(heldTruth);
        const residualVariance = neighbourVariance(heldTruth.map((y, k) => y - heldScores[k]!));
        choices.push({
          uncertain: 0,
          heldOut: {
            ...heldOut,
            meanAbsoluteError: abs / Math.max(1, heldIdx.length),
            meanBaselineError: base / Math.max(1, heldIdx.length),
            blockTruthVariance: truthVariance,
            blockResidualVariance: residualVariance,
            controlVariate: residualVariance < truthVariance ? 1 : 0,
          },
        });
      }
      const perFrame = decodeCost + (difference?.enabled ? difference.expectedSeconds : cnnCost) / skip;
      // Only a cascade whose estimated accuracy meets the targets is a candidate (a count's
      // interval is met at run time by sampling until it is narrow enough). A presence net may
      // spend half the target (the cheap stages a quarter each), and since the sample holds few
      // interpolation errors, the net used is one margin more cautious than the widest that met
      // it: a net that only just catches the errors the sample happened to show is not trusted.
      const meetsAt = (h: Record<string, number>) =>
        h.fnr! - h.skipAndDifferenceError! <= query.accuracy.fnr * STAGE_BUDGET_SHARE && h.fpr! - h.skipAndDifferenceError! <= query.accuracy.fpr * STAGE_BUDGET_SHARE && h.fnr! <= query.accuracy.fnr && h.fpr! <= query.accuracy.fpr;
      const widest = task === 'presence' ? choices.findIndex((c) => meetsAt(c.heldOut)) : -1;
      for (const [i, choice] of choices.entries()) {
        const cost = N * perFrame + choice.uncertain * (N - sample.length) * costs.reference;
        const h = choice.heldOut;
        const meets = task === 'count' || (widest >= 0 && i > widest);
        if (task === 'presence') considered.push(`${arch.inputSize}px net margin ${h.netMargin}: estimated FNR ${fmt(h.fnr)} / FPR ${fmt(h.fpr)}, ${fmt(cost)} s`);
        // Costs within COST_TIE of each other are a tie, kept by the earlier candidate (the smaller
        // model, the narrower net): measured timings are noisy and identical runs must not flip.
        if (meets && (!best || cost < best.cost * (1 - COST_TIE))) {
          best = { arch, trained, cost, cnnCost, decodeCost, calib: { skip, difference, thresholds: choice.thresholds, interpolation: choice.interpolation, heldOut: h } };
        }
      }
    }
    if (!best) {
      return { fallback: `no cascade met the targets (FNR ${query.accuracy.fnr}, FPR ${query.accuracy.fpr}) on the ${sample.length}-frame labelled sample (${considered.join('; ')}), so the reference detector labelled every frame` };
    }
    // Frames still unlabelled: those labelled before this query, and the sample it labelled (a
    // sample labelled by an earlier query is already in labelledCount).
    const rest = (N - labelledCount - counters.referenceCalls) * costs.reference;
    if (best.cost >= rest) {
      return { fallback: `the best cascade (${fmt(best.cost)} s estimated) costs more than labelling the remaining frames (${fmt(rest)} s), so the reference detector labelled every frame` };
    }
    const trainSeconds = (performance.now() - trainStarted) / 1000;
    stages.push({ stage: 'train + calibrate', framesIn: sample.length, framesDecided: 0, seconds: trainSeconds });
    costs.specialized = best!.cnnCost;
    params = {
      task,
      architecture: best!.arch,
      sampleStep: step,
      trainingFrames: trainIdx.map((i) => sample[i]!),
      estimationFrames: [],
      costs: { reference: costs.reference, specialized: best!.cnnCost, decode: best!.decodeCost },
      trainSeconds,
      ...best!.calib,
    };
    onnx = best!.trained.onnx;
    await catalog.putSpecializedModel({ ...key, architecture: best!.arch, onnx, manifest: best!.trained.manifest, metrics: params });
    const machine = machineKey();
    await catalog.putStageCost({ stageKind: 'specialized', key: `${best!.arch.inputSize}px`, machine, secondsPerFrame: best!.cnnCost });
    await catalog.putStageCost({ stageKind: 'train', key: 'image-epoch', machine, secondsPerFrame: costs.trainPerImageEpoch });
  }

  }

  // ---- execute over every frame in range ----
  const size = params.architecture.inputSize;
  const labelledSet = new Set(await catalog.labelledFrames(handle.row.id, model.id, { start, end }));
  const specialized = onnx.length > 0 ? await SpecializedModel.load(onnx) : undefined;
  const decision = new Int8Array(N).fill(-1); // presence: 1/0 decided, -1 uncertain
  const presenceScore = new Float32Array(N).fill(Number.NaN); // presence: model score (inherited for skips and difference hits)
  const prediction = new Float32Array(N); // count: expected count
  const source = new Uint8Array(N); // 0 store, 1 skip, 2 difference, 3 model
  let decodeSeconds = 0;
  let modelSeconds = 0;
  let diffSeconds = 0;
  let decoded = 0;
  let modelFrames = 0;
  let diffHits = 0;
  let skipped = 0;
  let anchor: Uint8Array | undefined;
  const dd = params.difference?.enabled && params.difference.spec ? params.difference : undefined;
  const background = dd?.background ? new Uint8Array(Buffer.from(dd.background, 'base64')) : undefined;
  let anchorScore = Number.NaN;
  const onScan = progress('scan', 'cascade scan');
  const frameBytes = size * size * 3;
  // Frames this query already holds at the model's size (the cold sample's thumbnails), and a
  // grid of labelled frames presence never needs: neither is decoded again.
  const grid: FrameGrid | undefined =
    task === 'count' ? (thumbs.has(size) ? { start, step: params.sampleStep } : undefined) : labelledGrid(start, end, params.sampleStep, labelledSet);
  if (task === 'count' && grid && specialized) {
    const sample = frameList(start, end, params.sampleStep);
    const images = thumbs.get(size)!;
    for (let i = 0; i < sample.length; i += 256) {
      const part = sample.subarray(i, i + 256);
      const batch: FrameBatch = { width: size, height: size, count: part.length, frames: part, timestamps: new Float64Array(part.length), data: images.subarray(i * frameBytes, (i + part.length) * frameBytes) };
      const m0 = performance.now();
      const scores = await specialized.score(batch, Array.from({ length: part.length }, (_, k) => k));
      modelSeconds += (performance.now() - m0) / 1000;
      modelFrames += part.length;
      part.forEach((f, k) => (prediction[f - start] = scores[k]!));
    }
  }
  // A count whose model did not beat plain block means needs no scan at all. Presence decodes
  // only the frames its frame skip keeps (the skip is pushed down into ffmpeg).
  const scan = task === 'presence' || Number(params.heldOut.controlVariate ?? 1) > 0;
  const scanStats = emptyDecodeStats();
  // Presence with a frame skip may let the decoder itself skip frames no other frame refers to
  // (-skip_frame noref), where measured on this file it is cheaper and keeps no gap wider than the skip.
  const reduced = task === 'presence' && scan && params.skip > 1 ? await chooseReducedDecode(engine, handle, start, end, params.skip) : undefined;
  const decodeOptions = {
    timestamps: handle.timestamps,
    ...(handle.seekGap !== undefined ? { seekGap: handle.seekGap } : {}),
    batchSize: 256,
    ...(options.signal ? { signal: options.signal } : {}),
    ...engine.ffmpegOptions(),
    ledger: counters.ledger!,
    stats: scanStats,
  };
  const frames = reduced
    ? firstOutput(decodeReduced(handle.row.path, { ...decodeOptions, mode: 'noref', outputs: [{ width: size, height: size }], start, end, exclude: (f) => labelledSet.has(f) }))
    : decodeFrames(handle.row.path, {
        ...decodeOptions,
        width: size,
        height: size,
        range: { start, end, step: task === 'presence' ? params.skip : 1 },
        ...(grid ? { skip: grid } : {}),
        ...(handle.outputCost ? { outputCost: handle.outputCost } : {}),
      });
  const evaluated = new Uint8Array(task === 'presence' ? N : 0);
  // With reduced decoding, a kept frame is evaluated once the next could lie past the skip.
  let lastEvaluated = start - params.skip;
  let widest = 0;
  let t = performance.now();
  for await (const batch of scan ? frames : []) {
    decodeSeconds += (performance.now() - t) / 1000;
    decoded += batch.count;
    counters.framesDecoded += batch.count;
    if (task === 'count') {
      // Every frame, labelled ones too: the estimator compares predictions with labels.
      const idx = Array.from({ length: batch.count }, (_, i) => i);
      const m0 = performance.now();
      const scores = await specialized!.score(batch, idx);
      modelSeconds += (performance.now() - m0) / 1000;
      modelFrames += idx.length;
      idx.forEach((i, k) => (prediction[batch.frames[i]! - start] = scores[k]!));
    } else {
      // Pass 1: which frames the model must see (the difference detector decides by distances alone).
      const plan = new Int8Array(batch.count); // 0 store, 2 diff (inherit anchor), 3 model, 4 background (negative)
      const d0 = performance.now();
      for (let i = 0; i < batch.count; i++) {
        const f = batch.frames[i]!;
        if (labelledSet.has(f)) continue;
        if (reduced && f - lastEvaluated < params.skip - reduced.maxGap + 1) continue;
        lastEvaluated = f;
        evaluated[f - start] = 1;
        const image = batch.data.subarray(i * frameBytes, (i + 1) * frameBytes);
        if (dd?.spec.reference === 'background' && distance(dd.spec, image, background!, size, size) < dd.threshold) plan[i] = 4;
        else if (dd?.spec.reference === 'earlier-frame' && anchor && distance(dd.spec, image, anchor, size, size) < dd.threshold) plan[i] = 2;
        else {
          plan[i] = 3;
          anchor = image.slice();
        }
      }
      diffSeconds += (performance.now() - d0) / 1000;
      const idx: number[] = [];
      for (let i = 0; i < batch.count; i++) if (plan[i] === 3) idx.push(i);
      const m0 = performance.now();
      const scores = await specialized!.score(batch, idx);
      modelSeconds += (performance.now() - m0) / 1000;
      modelFrames += idx.length;
      let k = 0;
      // Pass 2: decisions in frame order (difference hits inherit their anchor's score).
      for (let i = 0; i < batch.count; i++) {
        const f = batch.frames[i]! - start;
        if (plan[i] === 0) continue;
        if (plan[i] === 3) {
          anchorScore = scores[k++]!;
          presenceScore[f] = anchorScore;
          source[f] = 3;
        } else {
          // Close to the empty background: as sure a negative as a model score of 0.
          presenceScore[f] = plan[i] === 4 ? 0 : anchorScore;
          source[f] = 2;
          diffHits++;
        }
      }
    }
    onScan?.(decoded, N);
    t = performance.now();
  }
  if (task === 'presence') {
    // Frames the skip left out take the score of the last frame evaluated before them.
    let last = Number.NaN;
    let since = 0; // frames since the last evaluated or labelled one
    for (let i = 0; i < N; i++) {
      if (labelledSet.has(start + i)) {
        since = 0;
        continue;
      }
      if (!evaluated[i]) {
        presenceScore[i] = last;
        source[i] = 1;
        skipped++;
        widest = Math.max(widest, ++since + 1);
      } else {
        last = presenceScore[i]!;
        since = 0;
      }
    }
  }
  counters.grid = labelledGrid(start, end, params.sampleStep, labelledSet) ?? labelledGrid(start, end, params.sampleStep * 3, labelledSet);
  addDecodeStats(counters.decode!, scanStats);
  await recordDecodeCosts(catalog, handle.row.width, handle.row.height, machineKey(), { all: counters.decode!, readPass: { seconds: decodeSeconds, framesRead: scanStats.framesRead } });
  await specialized?.dispose();
  const machine = machineKey();
  await recordOutputCost(catalog, outputKey(handle.row.width, handle.row.height, size, size), machine, decodeSeconds, decoded);
  if (scan) stages.push({ stage: `decode ${size}x${size}${reduced ? ` (-skip_frame noref: ${decoded} frames decoded, evaluated frames at most ${widest} apart, labelled ones aside)` : ''}`, framesIn: N, framesDecided: 0, seconds: decodeSeconds });
  if (task === 'presence') {
    stages.push({ stage: `frame skip (every ${params.skip})`, framesIn: N - labelledSet.size, framesDecided: skipped, seconds: 0 });
    if (dd) stages.push({ stage: `difference detector (${dd.spec.kind}, vs ${dd.spec.reference})`, framesIn: N - labelledSet.size - skipped, framesDecided: diffHits, seconds: diffSeconds });
  }
  /** Presence of each labelled frame of the range (-1 where not labelled): one byte a frame. */
  const truth = new Int8Array(task === 'presence' ? N : 0).fill(-1);
  if (task === 'presence') {
    // Interpolate between agreeing labelled frames; the model's net flags contradictions.
    const list = Int32Array.from([...labelledSet].sort((a, b) => a - b));
    for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal), list, counters)) {
      for (const f of chunk) truth[f.frame - start] = truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
    }
    const next = new Int32Array(N).fill(-1);
    let after = -1;
    for (let i = N - 1; i >= 0; i--) {
      next[i] = after;
      if (truth[i]! >= 0) after = start + i;
    }
    let before = -1;
    const t = params.thresholds!;
    const net = params.interpolation?.net ?? true;
    let flagged = 0;
    for (let i = 0; i < N; i++) {
      const f = start + i;
      if (truth[i]! >= 0) {
        before = f;
        continue;
      }
      if (before < 0 || next[i]! < 0) continue;
      const a = truth[before - start] === 1;
      if (a !== (truth[next[i]! - start] === 1)) continue;
      const p = presenceScore[i]!;
      if (net && (Number.isNaN(p) || (a ? p <= t.cHigh : p >= t.cLow))) {
        flagged++;
        continue;
      }
      decision[i] = a ? 1 : 0;
    }
    stages.push({ stage: `specialized model ${size}px (safety net${net ? '' : ': off'})`, framesIn: modelFrames, framesDecided: modelFrames - flagged, seconds: modelSeconds });
  } else if (scan) stages.push({ stage: `specialized model ${size}px`, framesIn: modelFrames, framesDecided: modelFrames, seconds: modelSeconds });

  let result: QueryResult;
  if (task === 'presence') {
    result = await finishPresence(engine, query, handle, model, start, end, decision, truth, truthOf, counters, stages, options, labels, params, started);
  } else {
    result = await finishCount(engine, query, handle, model, start, end, prediction, labelledSet, truthOf, counters, stages, options, params, key, started);
  }
  return { result, planJson: { kind: 'cascade', ...params, trainingFrames: params.trainingFrames.length, estimationFrames: params.estimationFrames.length } };
}

async function finishPresence(
  engine: Engine,
  query: BoundQuery,
  handle: VideoHandle,
  model: ModelRow,
  start: number,
  end: number,
  decision: Int8Array,
  truth: Int8Array,
  truthOf: (d: readonly Detection[], frame: number, ts: number) => number,
  counters: Counters,
  stages: StageStats[],
  options: QueryOptions,
  labels: readonly string[],
  params: CascadeParams,
  started: number,
): Promise<QueryResult> {
  const N = end - start;
  // Frames the reference must see: uncertain ones; for object rows, every positive too.
  const needRows = query.shape === 'select-rows';
  const refFrames: number[] = [];
  let fromStore = 0;
  for (let i = 0; i < N; i++) {
    if (truth[i]! >= 0) fromStore++;
    else if (decision[i] === -1 || (needRows && decision[i] === 1)) refFrames.push(start + i);
  }
  const wanted = Int32Array.from(refFrames);
  const refStarted = performance.now();
  const calls0 = counters.referenceCalls;
  const onProgress = options.onProgress ? (done: number, total: number) => options.onProgress!({ phase: 'verify', label: 'reference (uncertain)', done, total, unit: 'frames' }) : undefined;
  for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal, onProgress), wanted, counters, counters.grid ? { skip: counters.grid } : {})) {
    for (const f of chunk) truth[f.frame - start] = truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
  }
  stages.push({ stage: 'reference detector', framesIn: refFrames.length, framesDecided: refFrames.length, seconds: (performance.now() - refStarted) / 1000 });
  stages.unshift({ stage: 'label store', framesIn: N, framesDecided: fromStore, seconds: 0 });
  const ts = handle.timestamps;
  const positive = (i: number): boolean => (truth[i]! >= 0 ? truth[i] === 1 : decision[i] === 1);
  let rows: ResultRow[];
  let value: number | undefined;
  if (query.shape === 'select-frames') {
    const frames: { frame: number; timestamp: number }[] = [];
    for (let i = 0; i < N; i++) if (positive(i)) frames.push({ frame: start + i, timestamp: ts[start + i]! });
    rows = frameSelectionRows(query, frames, labels);
  } else if (query.shape === 'select-rows') {
    // Every positive frame is labelled by now: its objects stream back from the store.
    const answer = createAnswerOperator(query, labels);
    const positives = Int32Array.from({ length: N }, (_, i) => i).filter(positive).map((i) => start + i);
    const reread = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    scan: for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal), positives, reread)) {
      for (const f of chunk) if (!answer.consume(f)) break scan;
    }
    rows = answer.finish(N).rows;
  } else {
    let n = 0;
    for (let i = 0; i < N; i++) if (positive(i)) n++;
    value = n;
    rows = [{ [query.outputs[0]!.name]: n }];
  }
  const h = params.thresholds;
  const skipErr = 0;
  const estFnr = Number(params.heldOut.fnr ?? 0);
  const estFpr = Number(params.heldOut.fpr ?? 0);
  const accuracy: AccuracyReport = {
    mode: 'cascade',
    targets: { fnr: query.accuracy.fnr, fpr: query.accuracy.fpr },
    estimated: { fnr: estFnr + skipErr, fpr: estFpr + skipErr },
    met: estFnr <= query.accuracy.fnr && estFpr <= query.accuracy.fpr,
    note: `cascade: estimated FNR ${fmt(estFnr)} / FPR ${fmt(estFpr)} (targets ${query.accuracy.fnr} / ${query.accuracy.fpr}), measured leave-one-out on ${params.interpolation?.agreeing ?? 0} labelled frames at twice the sample spacing; specialized model held-out (later time blocks) FNR ${fmt(h?.fnr)} / FPR ${fmt(h?.fpr)}; ${counters.referenceCalls - calls0} uncertain frames checked by the reference detector`,
  };
  // COUNT(DISTINCT frame) is an estimate, not an exact count: with FN <= fnr x P and FP <= fpr x (N - P)
  // the true count P lies in [(n - fpr x N) / (1 - fpr), n / (1 - fnr)], as surely as the targets hold.
  const { fnr, fpr } = query.accuracy;
  const interval = value === undefined ? undefined : { low: Math.max(0, Math.ceil((value - fpr * N) / (1 - fpr) - 1e-9)), high: Math.min(N, Math.floor(value / (1 - fnr) + 1e-9)), confidence: DEFAULT_CONFIDENCE };
  return assemble(query, handle, rows, value, interval, accuracy, counters, stages, N, started);
}

async function finishCount(
  engine: Engine,
  query: BoundQuery,
  handle: VideoHandle,
  model: ModelRow,
  start: number,
  end: number,
  prediction: Float32Array,
  labelledSet: Set<number>,
  truthOf: (d: readonly Detection[], frame: number, ts: number) => number,
  counters: Counters,
  stages: StageStats[],
  options: QueryOptions,
  params: CascadeParams,
  key: { videoId: number; referenceModelId: number; predicateKey: string; kind: string },
  started: number,
): Promise<QueryResult> {
  if (query.shape !== 'aggregate') throw new Error('internal: count cascade on a non-aggregate query');
  const N = end - start;
  const first = query.outputs[0]!;
  const target = query.accuracy.error;
  const { within, confidence } = countTarget(query, N);
  // Frames drawn by an earlier run's random sample are drawn again (same seed, same population),
  // so they are not exact frames here; every other labelled frame is.
  const drawnBefore = new Set(params.estimationFrames);
  const exact = [...labelledSet].filter((f) => f >= start && f < end && !drawnBefore.has(f));
  const exactSet = new Set(exact);
  const population: number[] = [];
  for (let f = start; f < end; f++) if (!exactSet.has(f)) population.push(f);
  const useModel = Number(params.heldOut.controlVariate ?? 1) > 0;
  const truth = new Map<number, number>();
  const refStarted = performance.now();
  const read = async (frames: readonly number[], phase: string) => {
    const list = Int32Array.from([...new Set(frames)].sort((a, b) => a - b));
    const onProgress = options.onProgress ? (done: number, total: number) => options.onProgress!({ phase, label: 'reference (sample)', done, total, unit: 'frames' }) : undefined;
    for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal, onProgress), list, counters, counters.grid ? { skip: counters.grid } : {})) {
      for (const f of chunk) truth.set(f.frame, truthOf(f.detections, f.frame, f.timestamp));
    }
  };
  await read(exact, 'store');
  const exactSum = exact.reduce((a, f) => a + truth.get(f)!, 0);
  const predicted = (f: number) => (useModel ? prediction[f - start]! : 0);
  // Stratified random sampling over time blocks, refined until the interval is narrow enough.
  const rng = new Random((options.seed ?? SEED) ^ key.videoId);
  const pilot = Number((useModel ? params.heldOut.blockResidualVariance : params.heldOut.blockTruthVariance) ?? 1);
  const { estimate, drawn, blocks } = await sampleStratified({
    population,
    frames: N,
    exactSum,
    exactFrames: exact.length,
    within,
    confidence,
    pilotVariance: pilot,
    random: () => rng.next(),
    predicted,
    label: (frames) => read(frames.filter((f) => !truth.has(f)), 'estimate'),
    value: (f) => truth.get(f)!,
  });
  const added = [...drawn].filter((f) => !drawnBefore.has(f));
  if (added.length > 0 || drawn.size !== drawnBefore.size) {
    const stored = await engine.catalog.findSpecializedModel(key);
    if (stored) {
      const metrics = { ...(stored.metrics as CascadeParams), estimationFrames: [...drawn].sort((a, b) => a - b) };
      await engine.catalog.putSpecializedModel({ ...key, architecture: stored.architecture, onnx: stored.onnx, manifest: stored.manifest, metrics });
    }
  }
  stages.unshift({ stage: 'label store', framesIn: N, framesDecided: counters.labelsFromStore, seconds: 0 });
  stages.push({ stage: `reference detector (stratified random sample, ${blocks.length} time blocks)`, framesIn: drawn.size, framesDecided: drawn.size, seconds: (performance.now() - refStarted) / 1000 });
  const row: Record<string, ResultValue> = {};
  for (const o of query.outputs) row[o.name] = o.aggregate.fn === 'count' ? estimate.value * N : estimate.value;
  const scale = first.aggregate.fn === 'count' ? N : 1;
  const value = estimate.value * scale;
  const half = estimate.halfWidth * scale;
  const accuracy: AccuracyReport = {
    mode: 'cascade',
    targets: { error: within * scale, confidence },
    estimated: { error: half },
    met: half <= within * scale + 1e-12,
    note: `estimate ${fmt(value)} ± ${fmt(half)} at ${Math.round(confidence * 100)}% confidence (target ± ${fmt(within * scale)}${target ? '' : ', the default'}): ${useModel ? "the specialized model's count on every frame, corrected in each time block by its mean residual on" : 'the mean in each time block of'} ${estimate.sampled} frames the reference detector labelled at random (stratified over ${blocks.length} time blocks), plus ${exact.length} frames known exactly`,
  };
  return assemble(query, handle, [row], value, { low: value - half, high: value + half, confidence }, accuracy, counters, stages, N, started);
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
async function chooseReducedDecode(engine: Engine, handle: VideoHandle, start: number, end: number, skip: number): Promise<{ maxGap: number } | undefined> {
  const machine = machineKey();
  const key = `video:${handle.row.contentHash}:skip ${skip}`;
  let gap = (await engine.catalog.findStageCost('decode-noref-gap', key, machine))?.secondsPerFrame;
  let ratio = (await engine.catalog.findStageCost('decode-noref-ratio', key, machine))?.secondsPerFrame;
  if (gap === undefined || ratio === undefined) {
    const stretch = { start, end: Math.min(end, start + 600) };
    try {
      const m = await measureReduced(handle.row.path, 'noref', {
        ...engine.ffmpegOptions(),
        ...stretch,
        timestamps: handle.timestamps,
        decodeAll: () => decodeFrames(handle.row.path, { ...engine.ffmpegOptions(), width: 32, height: 32, range: { ...stretch, step: skip }, batchSize: 128 }),
      });
      [gap, ratio] = [m.maxGap, m.costRatio];
    } catch (error) {
      if (!(error instanceof VideoError && error.code === 'DECODE_MODE_UNSUPPORTED')) throw error;
      [gap, ratio] = [Infinity, Infinity];
    }
    await engine.catalog.putStageCost({ stageKind: 'decode-noref-gap', key, machine, secondsPerFrame: Number.isFinite(gap) ? gap : 1e9 });
    await engine.catalog.putStageCost({ stageKind: 'decode-noref-ratio', key, machine, secondsPerFrame: Number.isFinite(ratio) ? ratio : 1e9 });
  }
  return gap <= skip && ratio < 0.9 ? { maxGap: gap } : undefined;
}

/** The sample grid `start + k * step`, when every frame of it in range is labelled. */
function labelledGrid(start: number, end: number, step: number, labelled: ReadonlySet<number>): FrameGrid | undefined {
  if (!(step > 1)) return undefined;
  for (let f = start; f < end; f += step) if (!labelled.has(f)) return undefined;
  return { start, step };
}

/** The count interval a query asks for, per frame, and its confidence level. */
function countTarget(query: BoundQuery, N: number): { within: number; confidence: number } {
  const target = query.accuracy.error;
  const first = query.shape === 'aggregate' ? query.outputs[0] : undefined;
  // ERROR WITHIN applies to the first output: per frame for FCOUNT, in objects for COUNT(*).
  const within = target ? (first?.aggregate.fn === 'count' ? target.within / N : target.within) : DEFAULT_FCOUNT_ERROR;
  return { within, confidence: target?.confidence ?? 0.95 };
}

/**
 * Whether a count needs a specialized model at all: the random labels plain stratified sampling
 * would need (from how much the count varies between neighbouring sample frames, which bounds how
 * much it varies inside a time block) against what training and scanning with a model cost, even
 * if the model then made sampling free.
 */
function plainSamplingPlan(query: BoundQuery, truth: Float32Array, N: number, unlabelled: number, costs: Costs, sampleSize: number) {
  const { within, confidence } = countTarget(query, N);
  const variance = neighbourVariance(truth);
  const z = probit(1 - (1 - confidence) / 2);
  const labels = Math.min(unlabelled, ((z * unlabelled * Math.sqrt(variance)) / (N * within)) ** 2);
  const training = ARCHITECTURES.length * sampleSize * TYPICAL_EPOCHS * costs.trainPerImageEpoch + N * (costs.decode + costs.specialized);
  return { cheaper: labels * costs.reference <= training, labels, training, variance };
}

/** Epochs a specialized model typically trains for before early stopping (for cost estimates). */
const TYPICAL_EPOCHS = 15;

/** The error bound an FCOUNT gets when the query states none (objects per frame, at 95% confidence: an error above 0.1 then has under 1% chance). */
export const DEFAULT_FCOUNT_ERROR = 0.075;

function assemble(
  query: BoundQuery,
  handle: VideoHandle,
  rows: ResultRow[],
  value: number | undefined,
  interval: QueryResult['interval'],
  accuracy: AccuracyReport,
  counters: Counters,
  stages: StageStats[],
  N: number,
  started: number,
): QueryResult {
  const kind = query.shape === 'aggregate' ? 'aggregate' : query.shape === 'select-rows' ? 'rows' : 'frames';
  return {
    kind,
    video: { name: query.video.name, path: handle.row.path },
    columns: query.outputs.map((o) => o.name),
    rows,
    ...(value !== undefined ? { value } : {}),
    ...(interval ? { interval } : value !== undefined ? { interval: { low: value, high: value, confidence: 1 } } : {}),
    accuracy,
    stats: {
      framesInRange: N,
      framesDecoded: counters.framesDecoded,
      referenceCalls: counters.referenceCalls,
      labelsFromStore: counters.labelsFromStore,
      seconds: (performance.now() - started) / 1000,
      stages,
      ...decodeSummary(counters),
    },
    plan: '',
  };
}

async function loadCosts(engine: Engine, handle: VideoHandle): Promise<Costs> {
  const machine = machineKey();
  const m = await engine.referenceModel();
  const { width: W, height: H } = handle.row;
  const get = async (kind: string, key: string, assumed: number, list: string[]) => {
    const row = await engine.catalog.findStageCost(kind, key, machine);
    if (!row) list.push(`${kind} ${key}`);
    return row?.secondsPerFrame ?? assumed;
  };
  const assumed: string[] = [];
  const reader = await loadDecodeCosts(engine.catalog, W, H, machine);
  // Assumptions before anything was measured on this machine: pessimistic for the cheap stages;
  // an unmeasured decode costs what reading through the source costs, times two for the scaling.
  return {
    reference: (await get('reference', m.sha256, 0.05, assumed)) + (await get('decode', detectorInputKey(W, H), 2 * reader.readPerFrame, assumed)),
    decode: await get('decode', outputKey(W, H, ARCHITECTURES[0]!.inputSize, ARCHITECTURES[0]!.inputSize), 2 * reader.readPerFrame, assumed),
    specialized: await get('specialized', '32px', 0.0005, assumed),
    difference: 0,
    trainPerImageEpoch: await get('train', 'image-epoch', 0.001, assumed),
    assumed,
  };
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : Number(v.toFixed(4)).toString();
}

