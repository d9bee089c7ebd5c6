/**
 * The NoScope / BlazeIt cascade: a labelled sample, a specialized model trained on it, thresholds
 * calibrated on held-out labelled frames, then every frame in range through
 * skip -> difference detector -> specialized model -> reference detector (uncertain frames only).
 * Aggregates use the model as a control variate with a random sample of reference labels.
 */
import { compileObjectPredicate, DEFAULT_CONFIDENCE, type BoundQuery } from './binder/index.js';
import type { EngineSession, VideoHandle } from './engine-session.js';
import type { QueryOptions } from './engine.js';
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

/** Why the optimizer declined a cascade (the caller then runs the exact plan); `message` says it in words. */
export type FallbackReason =
  | { readonly kind: 'labelling-cheaper'; readonly naiveCost: number; readonly cascadeCost: number; readonly message: string }
  | { readonly kind: 'no-cascade-meets-targets'; readonly considered: readonly string[]; readonly message: string }
  | { readonly kind: 'best-costs-more'; readonly bestCost: number; readonly rest: number; readonly message: string };

/** A declined cascade: `fallback` is the reason's message. */
export interface CascadeFallback {
  readonly fallback: string;
  readonly reason: FallbackReason;
}

type Arch = (typeof ARCHITECTURES)[number];
type TruthOf = (detections: readonly Detection[], frame: number, timestamp: number) => number;
type ProgressFor = (phase: string, label: string) => ((done: number, total: number) => void) | undefined;
interface CascadeKey {
  videoId: number;
  referenceModelId: number;
  predicateKey: string;
  kind: CascadeTask;
}

/** One cascade run: what every stage reads, and the counters, costs and stage timings stages add to. */
interface CascadeRun {
  readonly engine: EngineSession;
  readonly query: BoundQuery;
  readonly task: CascadeTask;
  readonly handle: VideoHandle;
  readonly model: ModelRow;
  readonly start: number;
  readonly end: number;
  readonly N: number;
  readonly options: QueryOptions;
  readonly started: number;
  readonly key: CascadeKey;
  readonly costs: Costs;
  readonly labelledCount: number;
  readonly counters: Counters;
  /** Sample frames decoded at each candidate model size while the sample was labelled (cold runs). */
  readonly thumbs: Map<number, Uint8Array>;
  readonly stages: StageStats[];
  readonly progress: ProgressFor;
  readonly labels: readonly string[];
  readonly truthOf: TruthOf;
}

/** A cascade to run: its stored parameters and the specialized model (empty when none was trained). */
interface Cascade {
  readonly params: CascadeParams;
  readonly onnx: Uint8Array;
}

/** What a cascade runs on: the query, its video and reference model, and the frames [start, end) in range. */
export interface CascadeInput {
  readonly engine: EngineSession;
  readonly query: BoundQuery;
  readonly task: CascadeTask;
  readonly handle: VideoHandle;
  readonly model: ModelRow;
  readonly start: number;
  readonly end: number;
  readonly options: QueryOptions;
  /** performance.now() when the query began. */
  readonly started: number;
}

/**
 * Runs the query through the cascade, or says why not when the optimizer finds the reference
 * detector on every frame cheaper, or no cascade it trained meets the accuracy targets (the
 * caller then runs the exact plan).
 */
export async function runCascade(input: CascadeInput): Promise<CascadeOutcome | CascadeFallback> {
  const { run, stored } = await openRun(input);
  const task = run.task;
  const cascade: Cascade | FallbackReason = stored ? { params: stored.metrics as CascadeParams, onnx: stored.onnx } : await planAndTrain(run);
  if ('kind' in cascade) return { fallback: cascade.message, reason: cascade };
  const { params } = cascade;
  const scan = await executeScan(run, params, cascade.onnx);
  let result: QueryResult;
  if (task === 'presence') {
    const truth = await interpolateWithNet(run, scan, params);
    result = await finishPresence(run, scan, truth, params);
  } else {
    if (scan.scan) run.stages.push({ stage: `specialized model ${scan.size}px`, framesIn: scan.modelFrames, framesDecided: scan.modelFrames, seconds: scan.modelSeconds });
    result = await finishCount(run, scan, params);
  }
  return { result, planJson: { kind: 'cascade', ...params, trainingFrames: params.trainingFrames.length, estimationFrames: params.estimationFrames.length } };
}

/** The run's context, and the cascade stored for this video, reference model and predicate (if any). */
async function openRun(input: CascadeInput) {
  const { engine, query, task, handle, model, start, end, options, started } = input;
  const catalog = engine.catalog;
  const N = end - start;
  const key: CascadeKey = { videoId: handle.row.id, referenceModelId: model.id, predicateKey: cascadeKey(task, query), kind: task };
  const stored = await catalog.findSpecializedModel(key);
  const costs = await loadCosts(engine, handle);
  const labelledCount = await catalog.countLabelled(handle.row.id, model.id, { start, end });
  const counters: Counters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0, ledger: new FrameLedger(handle.row.frameCount), decode: emptyDecodeStats() };
  const thumbs = new Map<number, Uint8Array>();
  const stages: StageStats[] = [];
  const progress: ProgressFor = (phase, label) =>
    options.onProgress ? (done: number, total: number) => options.onProgress!({ phase, label, done, total, unit: 'frames' }) : undefined;
  const labels = (await engine.referenceModel()).manifest.labels;
  const where = compileObjectPredicate(query.where);
  const truthOf: TruthOf = (detections, frame, timestamp) => {
    let n = 0;
    for (const d of detections) if (where({ frame, timestamp, ...d })) n++;
    return task === 'presence' ? (n > 0 ? 1 : 0) : n;
  };
  const run: CascadeRun = { engine, query, task, handle, model, start, end, N, options, started, key, costs, labelledCount, counters, thumbs, stages, progress, labels, truthOf };
  return { run, stored };
}

/** Cold run: plan, label the sample, then train a cascade (or, for a count, decide none is needed). */
async function planAndTrain(run: CascadeRun): Promise<Cascade | FallbackReason> {
  const plan = planCheck(run);
  if ('kind' in plan) return plan;
  const { step, sample } = plan;
  const { truth, plain } = await labelSample(run, step, sample);
  if (plain?.cheaper) return storePlainSampling(run, step, plain);
  return trainAndPick(run, step, sample, truth);
}

/** Is a cascade worth training here? The sample it would label, or why not. */
function planCheck(run: CascadeRun): { step: number; sample: Int32Array } | FallbackReason {
  const { N, start, end, labelledCount, costs } = run;
  const nTarget = Math.min(N, Math.max(150, Math.min(500, Math.round(N / 6))));
  const step = Math.max(1, Math.floor(N / nTarget));
  const sample = frameList(start, end, step);
  const sampleMissing = Math.max(0, sample.length - Math.min(labelledCount, sample.length));
  const naiveCost = (N - labelledCount) * costs.reference;
  const cascadeCost = sampleMissing * costs.reference + sample.length * 30 * costs.trainPerImageEpoch * ARCHITECTURES.length + N * (costs.decode + costs.specialized) + 0.15 * (N - sample.length) * costs.reference;
  if (cascadeCost >= naiveCost) {
    const message = `labelling the ${N - labelledCount} unlabelled frames (${fmt(naiveCost)} s estimated) is cheaper than sampling, training and a cascade (${fmt(cascadeCost)} s)`;
    return { kind: 'labelling-cheaper', naiveCost, cascadeCost, message };
  }
  return { step, sample };
}

/**
 * Labels the sample with the reference detector (keeping every candidate model's thumbnails); a
 * count labels a pilot third first and, where plain stratified sampling is cheaper, stops there.
 */
async function labelSample(run: CascadeRun, step: number, sample: Int32Array) {
  const { engine, handle, model, options, counters, costs, thumbs, stages, task, start, end, truthOf } = run;
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
  const label = async (frames: Int32Array, stage: string) => {
    const sampleStarted = performance.now();
    const calls = counters.referenceCalls;
    for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal, run.progress('sample', 'labelling sample')), frames, counters, { thumbnails })) {
      for (const f of chunk) truthByFrame.set(f.frame, truthOf(f.detections, f.frame, f.timestamp));
    }
    stages.push({ stage, framesIn: frames.length, framesDecided: counters.referenceCalls - calls, seconds: (performance.now() - sampleStarted) / 1000 });
    if (counters.referenceCalls > 0) costs.reference = (counters.detectSeconds + (counters.decodeWaitSeconds ?? 0)) / counters.referenceCalls;
  };
  // A count first labels a third of the sample: enough to tell whether a model is worth training.
  const pilot = task === 'count' ? frameList(start, end, step * 3) : sample;
  await label(pilot, task === 'count' ? 'pilot sample (reference)' : 'sample (reference)');
  // Count: would plain stratified sampling cost less than training could ever save?
  const plain = task === 'count'
    ? plainSamplingPlan(run.query, Float32Array.from(pilot, (f) => truthByFrame.get(f)!), run.N, Math.max(0, run.N - run.labelledCount - pilot.length), costs, sample.length)
    : undefined;
  if (task === 'count' && !plain?.cheaper) await label(sample.filter((f) => !truthByFrame.has(f)), 'training sample (reference)');
  if (plain?.cheaper) thumbs.clear();
  const truth = Float32Array.from(sample, (f) => truthByFrame.get(f)!);
  const inputKey = detectorInputKey(handle.row.width, handle.row.height);
  await recordOutputCost(engine.catalog, inputKey, machineKey(), counters.decodeWaitSeconds ?? 0, counters.framesDecoded);
  return { truth, plain };
}

/** A count answered by plain stratified sampling: stored without a specialized model. */
async function storePlainSampling(run: CascadeRun, step: number, plain: ReturnType<typeof plainSamplingPlan>): Promise<Cascade> {
  const { task, costs } = run;
  const params: CascadeParams = {
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
  const onnx = new Uint8Array(0);
  run.stages.push({ stage: `plan: no specialized model (about ${Math.round(plain.labels)} random labels, ${fmt(plain.labels * costs.reference)} s, against ${fmt(plain.training)} s to train one)`, framesIn: 0, framesDecided: 0, seconds: 0 });
  await run.engine.catalog.putSpecializedModel({ ...run.key, architecture: null, onnx, manifest: null, metrics: params });
  return { params, onnx };
}

/** The labelled sample candidates train and calibrate on. */
interface SampleSet {
  readonly step: number;
  readonly sample: Int32Array;
  readonly truth: Float32Array;
  readonly trainIdx: readonly number[];
  readonly estimationIdx: readonly number[];
  readonly maxCount: number;
}

type Calib = Omit<CascadeParams, 'trainSeconds' | 'costs' | 'estimationFrames' | 'trainingFrames' | 'sampleStep' | 'task' | 'architecture'>;

interface Best {
  readonly arch: Arch;
  readonly trained: TrainedModel;
  readonly calib: Calib;
  readonly cost: number;
  readonly cnnCost: number;
  readonly decodeCost: number;
}

/** One calibrated option of a candidate: presence, one per safety-net margin; count, one. */
interface Choice {
  thresholds?: PresenceThresholds;
  interpolation?: InterpolationCalibration & { net: boolean };
  uncertain: number;
  heldOut: Record<string, number>;
}

/** A trained candidate model with its cheap stages and calibrated options. */
interface Candidate {
  readonly arch: Arch;
  readonly trained: TrainedModel;
  readonly cnnCost: number;
  readonly decodeCost: number;
  readonly skip: number;
  readonly difference: DifferenceChoice | undefined;
  readonly perFrame: number;
  readonly choices: readonly Choice[];
}

/** Trains candidates, calibrates them on held-out later blocks, and picks by expected cost (or falls back). */
async function trainAndPick(run: CascadeRun, step: number, sample: Int32Array, truth: Float32Array): Promise<Cascade | FallbackReason> {
  const { task, query, N } = run;
  const trainStarted = performance.now();
  const trainIdx: number[] = [];
  const estimationIdx: number[] = [];
  if (task === 'count') sample.forEach((_, i) => (i % 2 === 0 ? trainIdx : estimationIdx).push(i));
  else sample.forEach((_, i) => trainIdx.push(i));
  const maxCount = Math.max(1, Math.min(20, Math.max(...truth)));
  const set: SampleSet = { step, sample, truth, trainIdx, estimationIdx, maxCount };
  const considered: string[] = [];
  let best: Best | undefined;
  for (const arch of ARCHITECTURES) best = considerCandidate(run, set, await trainCandidate(run, arch, set), best, considered);
  if (!best) {
    const message = `no cascade met the targets (FNR ${query.accuracy.fnr}, FPR ${query.accuracy.fpr}) on the ${sample.length}-frame labelled sample (${considered.join('; ')}), so the reference detector labelled every frame`;
    return { kind: 'no-cascade-meets-targets', considered, message };
  }
  // Frames still unlabelled: those labelled before this query, and the sample it labelled (a
  // sample labelled by an earlier query is already in labelledCount).
  const rest = (N - run.labelledCount - run.counters.referenceCalls) * run.costs.reference;
  if (best.cost >= rest) {
    const message = `the best cascade (${fmt(best.cost)} s estimated) costs more than labelling the remaining frames (${fmt(rest)} s), so the reference detector labelled every frame`;
    return { kind: 'best-costs-more', bestCost: best.cost, rest, message };
  }
  return storeBest(run, set, best, trainStarted);
}

/** Trains one candidate architecture on the sample and scores every sample frame with it. */
async function trainArch(run: CascadeRun, arch: Arch, set: SampleSet) {
  const { engine, handle, options, task, key, costs } = run;
  const { sample, truth, trainIdx, step, maxCount } = set;
  const images = run.thumbs.get(arch.inputSize)!;
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
  return { images, trained, scores, cnnCost };
}

/** Trains one candidate, then measures its frame skip and difference detector and calibrates its options. */
async function trainCandidate(run: CascadeRun, arch: Arch, set: SampleSet): Promise<Candidate> {
  const { task, query } = run;
  const { sample, truth, step } = set;
  const decodeCost = run.costs.decode;
  const { images, trained, scores, cnnCost } = await trainArch(run, arch, set);
  // Held-out: presence, the later time blocks the trainer never saw; count, the interleaved half.
  const heldIdx = task === 'presence' ? Array.from(timeSplit(Int32Array.from(sample), { test: 0.25 }).test) : set.estimationIdx;
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
  const choices = task === 'presence'
    ? presenceChoices(run, set, scores, heldScores, heldTruth, heldOut, changes, cheapStagesError)
    : [countChoice(heldScores, heldTruth, heldOut)];
  const perFrame = decodeCost + (difference?.enabled ? difference.expectedSeconds : cnnCost) / skip;
  return { arch, trained, cnnCost, decodeCost, skip, difference, perFrame, choices };
}

/** Presence: one option per safety-net margin. */
function presenceChoices(
  run: CascadeRun,
  set: SampleSet,
  scores: Float32Array,
  heldScores: number[],
  heldTruth: number[],
  heldOut: Record<string, number>,
  changes: number,
  cheapStagesError: number,
): Choice[] {
  const { query, N } = run;
  const { truth, step, sample } = set;
  const choices: Choice[] = [];
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
  return choices;
}

/** Count: the one option, with the held-out errors and the pilot variances for the stratified estimate. */
function countChoice(heldScores: number[], heldTruth: number[], heldOut: Record<string, number>): Choice {
  let abs = 0;
  let base = 0;
  const mean = heldTruth.reduce((a, b) => a + b, 0) / Math.max(1, heldTruth.length);
  heldTruth.forEach((_, k) => {
    abs += Math.abs(heldScores[k]! - heldTruth[k]!);
    base += Math.abs(mean - heldTruth[k]!);
  });
  // Pilot for the stratified estimate: how much the value (or the model's residual) varies
  // between neighbouring held-out frames, i.e. inside a short time block.
  const truthVariance = neighbourVariance(heldTruth);
  const residualVariance = neighbourVariance(heldTruth.map((y, k) => y - heldScores[k]!));
  return {
    uncertain: 0,
    heldOut: {
      ...heldOut,
      meanAbsoluteError: abs / Math.max(1, heldTruth.length),
      meanBaselineError: base / Math.max(1, heldTruth.length),
      blockTruthVariance: truthVariance,
      blockResidualVariance: residualVariance,
      controlVariate: residualVariance < truthVariance ? 1 : 0,
    },
  };
}

/** The better of `best` and the candidate's options that meet the targets, by expected cost. */
function considerCandidate(run: CascadeRun, set: SampleSet, c: Candidate, best: Best | undefined, considered: string[]): Best | undefined {
  const { task, query, N } = run;
  // Only a cascade whose estimated accuracy meets the targets is a candidate (a count's
  // interval is met at run time by sampling until it is narrow enough). A presence net may
  // spend half the target (the cheap stages a quarter each), and since the sample holds few
  // interpolation errors, the net used is one margin more cautious than the widest that met
  // it: a net that only just catches the errors the sample happened to show is not trusted.
  const meetsAt = (h: Record<string, number>) =>
    h.fnr! - h.skipAndDifferenceError! <= query.accuracy.fnr * STAGE_BUDGET_SHARE && h.fpr! - h.skipAndDifferenceError! <= query.accuracy.fpr * STAGE_BUDGET_SHARE && h.fnr! <= query.accuracy.fnr && h.fpr! <= query.accuracy.fpr;
  const widest = task === 'presence' ? c.choices.findIndex((choice) => meetsAt(choice.heldOut)) : -1;
  for (const [i, choice] of c.choices.entries()) {
    const cost = N * c.perFrame + choice.uncertain * (N - set.sample.length) * run.costs.reference;
    const h = choice.heldOut;
    const meets = task === 'count' || (widest >= 0 && i > widest);
    if (task === 'presence') considered.push(`${c.arch.inputSize}px net margin ${h.netMargin}: estimated FNR ${fmt(h.fnr)} / FPR ${fmt(h.fpr)}, ${fmt(cost)} s`);
    // Costs within COST_TIE of each other are a tie, kept by the earlier candidate (the smaller
    // model, the narrower net): measured timings are noisy and identical runs must not flip.
    if (meets && (!best || cost < best.cost * (1 - COST_TIE))) {
      best = { arch: c.arch, trained: c.trained, cost, cnnCost: c.cnnCost, decodeCost: c.decodeCost, calib: { skip: c.skip, difference: c.difference, thresholds: choice.thresholds, interpolation: choice.interpolation, heldOut: h } };
    }
  }
  return best;
}

/** Stores the chosen cascade and its measured stage costs. */
async function storeBest(run: CascadeRun, set: SampleSet, best: Best, trainStarted: number): Promise<Cascade> {
  const { task, costs, stages } = run;
  const catalog = run.engine.catalog;
  const trainSeconds = (performance.now() - trainStarted) / 1000;
  stages.push({ stage: 'train + calibrate', framesIn: set.sample.length, framesDecided: 0, seconds: trainSeconds });
  costs.specialized = best.cnnCost;
  const params: CascadeParams = {
    task,
    architecture: best.arch,
    sampleStep: set.step,
    trainingFrames: set.trainIdx.map((i) => set.sample[i]!),
    estimationFrames: [],
    costs: { reference: costs.reference, specialized: best.cnnCost, decode: best.decodeCost },
    trainSeconds,
    ...best.calib,
  };
  const onnx = best.trained.onnx;
  await catalog.putSpecializedModel({ ...run.key, architecture: best.arch, onnx, manifest: best.trained.manifest, metrics: params });
  const machine = machineKey();
  await catalog.putStageCost({ stageKind: 'specialized', key: `${best.arch.inputSize}px`, machine, secondsPerFrame: best.cnnCost });
  await catalog.putStageCost({ stageKind: 'train', key: 'image-epoch', machine, secondsPerFrame: costs.trainPerImageEpoch });
  return { params, onnx };
}

/** The scan over every frame in range: per-frame decisions and scores, and what each stage spent. */
interface ScanState {
  readonly size: number;
  readonly frameBytes: number;
  readonly labelledSet: Set<number>;
  readonly specialized: SpecializedModel | undefined;
  /** Presence: 1/0 decided, -1 uncertain. */
  readonly decision: Int8Array;
  /** Presence: model score (inherited for skips and difference hits). */
  readonly presenceScore: Float32Array;
  /** Count: expected count. */
  readonly prediction: Float32Array;
  /** 0 store, 1 skip, 2 difference, 3 model. */
  readonly source: Uint8Array;
  /** Presence: frames the scan evaluated. */
  readonly evaluated: Uint8Array;
  readonly dd: DifferenceChoice | undefined;
  readonly background: Uint8Array | undefined;
  scan: boolean;
  reduced: { maxGap: number } | undefined;
  decodeSeconds: number;
  modelSeconds: number;
  diffSeconds: number;
  decoded: number;
  modelFrames: number;
  diffHits: number;
  skipped: number;
  anchor: Uint8Array | undefined;
  anchorScore: number;
  /** With reduced decoding, a kept frame is evaluated once the next could lie past the skip. */
  lastEvaluated: number;
  widest: number;
}

/** Executes the cascade over every frame in range. */
async function executeScan(run: CascadeRun, params: CascadeParams, onnx: Uint8Array): Promise<ScanState> {
  const { task, start, end, thumbs } = run;
  const s = await openScan(run, params, onnx);
  // Frames this query already holds at the model's size (the cold sample's thumbnails), and a
  // grid of labelled frames presence never needs: neither is decoded again.
  const grid: FrameGrid | undefined =
    task === 'count' ? (thumbs.has(s.size) ? { start, step: params.sampleStep } : undefined) : labelledGrid(start, end, params.sampleStep, s.labelledSet);
  if (task === 'count' && grid && s.specialized) await scoreSampleThumbnails(run, s, params);
  // A count whose model did not beat plain block means needs no scan at all. Presence decodes
  // only the frames its frame skip keeps (the skip is pushed down into ffmpeg).
  s.scan = task === 'presence' || Number(params.heldOut.controlVariate ?? 1) > 0;
  const scanStats = emptyDecodeStats();
  // Presence with a frame skip may let the decoder itself skip frames no other frame refers to
  // (-skip_frame noref), where measured on this file it is cheaper and keeps no gap wider than the skip.
  s.reduced = task === 'presence' && s.scan && params.skip > 1 ? await chooseReducedDecode(run.engine, run.handle, start, end, params.skip) : undefined;
  const frames = openDecode(run, s, params, grid, scanStats);
  await scanFrames(run, s, params, frames);
  if (task === 'presence') fillSkipped(run, s);
  await recordScan(run, s, params, scanStats);
  return s;
}

async function openScan(run: CascadeRun, params: CascadeParams, onnx: Uint8Array): Promise<ScanState> {
  const { N, start, end } = run;
  const size = params.architecture.inputSize;
  const labelledSet = new Set(await run.engine.catalog.labelledFrames(run.handle.row.id, run.model.id, { start, end }));
  const specialized = onnx.length > 0 ? await SpecializedModel.load(onnx) : undefined;
  const dd = params.difference?.enabled && params.difference.spec ? params.difference : undefined;
  return {
    size,
    frameBytes: size * size * 3,
    labelledSet,
    specialized,
    decision: new Int8Array(N).fill(-1),
    presenceScore: new Float32Array(N).fill(Number.NaN),
    prediction: new Float32Array(N),
    source: new Uint8Array(N),
    evaluated: new Uint8Array(run.task === 'presence' ? N : 0),
    dd,
    background: dd?.background ? new Uint8Array(Buffer.from(dd.background, 'base64')) : undefined,
    scan: false,
    reduced: undefined,
    decodeSeconds: 0,
    modelSeconds: 0,
    diffSeconds: 0,
    decoded: 0,
    modelFrames: 0,
    diffHits: 0,
    skipped: 0,
    anchor: undefined,
    anchorScore: Number.NaN,
    lastEvaluated: start - params.skip,
    widest: 0,
  };
}

/** Count: the model's predictions for the sample frames, from the thumbnails the sample pass kept. */
async function scoreSampleThumbnails(run: CascadeRun, s: ScanState, params: CascadeParams): Promise<void> {
  const { size, frameBytes } = s;
  const sample = frameList(run.start, run.end, params.sampleStep);
  const images = run.thumbs.get(size)!;
  for (let i = 0; i < sample.length; i += 256) {
    const part = sample.subarray(i, i + 256);
    const batch: FrameBatch = { width: size, height: size, count: part.length, frames: part, timestamps: new Float64Array(part.length), data: images.subarray(i * frameBytes, (i + part.length) * frameBytes) };
    const m0 = performance.now();
    const scores = await s.specialized!.score(batch, Array.from({ length: part.length }, (_, k) => k));
    s.modelSeconds += (performance.now() - m0) / 1000;
    s.modelFrames += part.length;
    part.forEach((f, k) => (s.prediction[f - run.start] = scores[k]!));
  }
}

/** The scan's decode: reduced (-skip_frame noref) or every `skip`-th frame, at the model's size. */
function openDecode(run: CascadeRun, s: ScanState, params: CascadeParams, grid: FrameGrid | undefined, scanStats: ReturnType<typeof emptyDecodeStats>): AsyncIterable<FrameBatch> {
  const { engine, handle, options, counters, start, end, task } = run;
  const { size, labelledSet } = s;
  const decodeOptions = {
    timestamps: handle.timestamps,
    ...(handle.seekGap !== undefined ? { seekGap: handle.seekGap } : {}),
    batchSize: 256,
    ...(options.signal ? { signal: options.signal } : {}),
    ...engine.ffmpegOptions(),
    ledger: counters.ledger!,
    stats: scanStats,
  };
  return s.reduced
    ? firstOutput(decodeReduced(handle.row.path, { ...decodeOptions, mode: 'noref', outputs: [{ width: size, height: size }], start, end, exclude: (f) => labelledSet.has(f) }))
    : decodeFrames(handle.row.path, {
        ...decodeOptions,
        width: size,
        height: size,
        range: { start, end, step: task === 'presence' ? params.skip : 1 },
        ...(grid ? { skip: grid } : {}),
        ...(handle.outputCost ? { outputCost: handle.outputCost } : {}),
      });
}

async function scanFrames(run: CascadeRun, s: ScanState, params: CascadeParams, frames: AsyncIterable<FrameBatch>): Promise<void> {
  const onScan = run.progress('scan', 'cascade scan');
  let t = performance.now();
  for await (const batch of s.scan ? frames : []) {
    s.decodeSeconds += (performance.now() - t) / 1000;
    s.decoded += batch.count;
    run.counters.framesDecoded += batch.count;
    if (run.task === 'count') await countBatch(run, s, batch);
    else await presenceBatch(run, s, params, batch);
    onScan?.(s.decoded, run.N);
    t = performance.now();
  }
}

/** Count: every frame, labelled ones too (the estimator compares predictions with labels). */
async function countBatch(run: CascadeRun, s: ScanState, batch: FrameBatch): Promise<void> {
  const idx = Array.from({ length: batch.count }, (_, i) => i);
  const m0 = performance.now();
  const scores = await s.specialized!.score(batch, idx);
  s.modelSeconds += (performance.now() - m0) / 1000;
  s.modelFrames += idx.length;
  idx.forEach((i, k) => (s.prediction[batch.frames[i]! - run.start] = scores[k]!));
}

/** Presence: the difference detector decides by distances alone; the model scores the rest. */
async function presenceBatch(run: CascadeRun, s: ScanState, params: CascadeParams, batch: FrameBatch): Promise<void> {
  const { start } = run;
  const { dd, size, frameBytes, reduced } = s;
  // Pass 1: which frames the model must see.
  const plan = new Int8Array(batch.count); // 0 store, 2 diff (inherit anchor), 3 model, 4 background (negative)
  const d0 = performance.now();
  for (let i = 0; i < batch.count; i++) {
    const f = batch.frames[i]!;
    if (s.labelledSet.has(f)) continue;
    if (reduced && f - s.lastEvaluated < params.skip - reduced.maxGap + 1) continue;
    s.lastEvaluated = f;
    s.evaluated[f - start] = 1;
    const image = batch.data.subarray(i * frameBytes, (i + 1) * frameBytes);
    if (dd?.spec.reference === 'background' && distance(dd.spec, image, s.background!, size, size) < dd.threshold) plan[i] = 4;
    else if (dd?.spec.reference === 'earlier-frame' && s.anchor && distance(dd.spec, image, s.anchor, size, size) < dd.threshold) plan[i] = 2;
    else {
      plan[i] = 3;
      s.anchor = image.slice();
    }
  }
  s.diffSeconds += (performance.now() - d0) / 1000;
  const idx: number[] = [];
  for (let i = 0; i < batch.count; i++) if (plan[i] === 3) idx.push(i);
  const m0 = performance.now();
  const scores = await s.specialized!.score(batch, idx);
  s.modelSeconds += (performance.now() - m0) / 1000;
  s.modelFrames += idx.length;
  let k = 0;
  // Pass 2: decisions in frame order (difference hits inherit their anchor's score).
  for (let i = 0; i < batch.count; i++) {
    const f = batch.frames[i]! - start;
    if (plan[i] === 0) continue;
    if (plan[i] === 3) {
      s.anchorScore = scores[k++]!;
      s.presenceScore[f] = s.anchorScore;
      s.source[f] = 3;
    } else {
      // Close to the empty background: as sure a negative as a model score of 0.
      s.presenceScore[f] = plan[i] === 4 ? 0 : s.anchorScore;
      s.source[f] = 2;
      s.diffHits++;
    }
  }
}

/** Presence: frames the skip left out take the score of the last frame evaluated before them. */
function fillSkipped(run: CascadeRun, s: ScanState): void {
  let last = Number.NaN;
  let since = 0; // frames since the last evaluated or labelled one
  for (let i = 0; i < run.N; i++) {
    if (s.labelledSet.has(run.start + i)) {
      since = 0;
      continue;
    }
    if (!s.evaluated[i]) {
      s.presenceScore[i] = last;
      s.source[i] = 1;
      s.skipped++;
      s.widest = Math.max(s.widest, ++since + 1);
    } else {
      last = s.presenceScore[i]!;
      since = 0;
    }
  }
}

/** Records the scan's measured costs and its decode, frame-skip and difference-detector stages. */
async function recordScan(run: CascadeRun, s: ScanState, params: CascadeParams, scanStats: ReturnType<typeof emptyDecodeStats>): Promise<void> {
  const { counters, start, end, handle, N, stages } = run;
  const catalog = run.engine.catalog;
  const { size, labelledSet, dd } = s;
  counters.grid = labelledGrid(start, end, params.sampleStep, labelledSet) ?? labelledGrid(start, end, params.sampleStep * 3, labelledSet);
  addDecodeStats(counters.decode!, scanStats);
  await recordDecodeCosts(catalog, handle.row.width, handle.row.height, machineKey(), { all: counters.decode!, readPass: { seconds: s.decodeSeconds, framesRead: scanStats.framesRead } });
  await s.specialized?.dispose();
  const machine = machineKey();
  await recordOutputCost(catalog, outputKey(handle.row.width, handle.row.height, size, size), machine, s.decodeSeconds, s.decoded);
  if (s.scan) stages.push({ stage: `decode ${size}x${size}${s.reduced ? ` (-skip_frame noref: ${s.decoded} frames decoded, evaluated frames at most ${s.widest} apart, labelled ones aside)` : ''}`, framesIn: N, framesDecided: 0, seconds: s.decodeSeconds });
  if (run.task === 'presence') {
    stages.push({ stage: `frame skip (every ${params.skip})`, framesIn: N - labelledSet.size, framesDecided: s.skipped, seconds: 0 });
    if (dd) stages.push({ stage: `difference detector (${dd.spec.kind}, vs ${dd.spec.reference})`, framesIn: N - labelledSet.size - s.skipped, framesDecided: s.diffHits, seconds: s.diffSeconds });
  }
}

/**
 * Presence: interpolates between agreeing labelled frames (the model's net flags contradictions).
 * Returns the presence of each labelled frame of the range (-1 where not labelled): one byte a frame.
 */
async function interpolateWithNet(run: CascadeRun, s: ScanState, params: CascadeParams): Promise<Int8Array> {
  const { N, start } = run;
  const truth = new Int8Array(N).fill(-1);
  const list = Int32Array.from([...s.labelledSet].sort((a, b) => a - b));
  for await (const chunk of referenceScan(run.engine.scanContext(run.handle, run.model, run.options.signal), list, run.counters)) {
    for (const f of chunk) truth[f.frame - start] = run.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
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
    const p = s.presenceScore[i]!;
    if (net && (Number.isNaN(p) || (a ? p <= t.cHigh : p >= t.cLow))) {
      flagged++;
      continue;
    }
    s.decision[i] = a ? 1 : 0;
  }
  run.stages.push({ stage: `specialized model ${s.size}px (safety net${net ? '' : ': off'})`, framesIn: s.modelFrames, framesDecided: s.modelFrames - flagged, seconds: s.modelSeconds });
  return truth;
}

/** Presence: the reference detector checks uncertain frames (and, for object rows, positives); then the answer. */
async function finishPresence(run: CascadeRun, s: ScanState, truth: Int8Array, params: CascadeParams): Promise<QueryResult> {
  const { engine, query, handle, model, start, N, counters, stages, options, truthOf } = run;
  const { decision } = s;
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
  const positive = (i: number): boolean => (truth[i]! >= 0 ? truth[i] === 1 : decision[i] === 1);
  const { rows, value } = await presenceRows(run, positive);
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
  return assemble(query, handle, rows, value, interval, accuracy, counters, stages, N, run.started);
}

/** Presence: the answer's rows (and, for COUNT(DISTINCT frame), its value) from the positive frames. */
async function presenceRows(run: CascadeRun, positive: (i: number) => boolean): Promise<{ rows: ResultRow[]; value: number | undefined }> {
  const { engine, query, handle, model, start, N, options, labels } = run;
  const ts = handle.timestamps;
  if (query.shape === 'select-frames') {
    const frames: { frame: number; timestamp: number }[] = [];
    for (let i = 0; i < N; i++) if (positive(i)) frames.push({ frame: start + i, timestamp: ts[start + i]! });
    return { rows: frameSelectionRows(query, frames, labels), value: undefined };
  }
  if (query.shape === 'select-rows') {
    // Every positive frame is labelled by now: its objects stream back from the store.
    const answer = createAnswerOperator(query, labels);
    const positives = Int32Array.from({ length: N }, (_, i) => i).filter(positive).map((i) => start + i);
    const reread = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    scan: for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal), positives, reread)) {
      for (const f of chunk) if (!answer.consume(f)) break scan;
    }
    return { rows: answer.finish(N).rows, value: undefined };
  }
  let n = 0;
  for (let i = 0; i < N; i++) if (positive(i)) n++;
  return { rows: [{ [query.outputs[0]!.name]: n }], value: n };
}

/** Count: a stratified random sample of reference labels, with the model as a control variate. */
async function finishCount(run: CascadeRun, s: ScanState, params: CascadeParams): Promise<QueryResult> {
  const { engine, query, handle, model, start, end, N, counters, stages, options, truthOf, key } = run;
  if (query.shape !== 'aggregate') throw new Error('internal: count cascade on a non-aggregate query');
  const { within, confidence } = countTarget(query, N);
  // Frames drawn by an earlier run's random sample are drawn again (same seed, same population),
  // so they are not exact frames here; every other labelled frame is.
  const drawnBefore = new Set(params.estimationFrames);
  const exact = [...s.labelledSet].filter((f) => f >= start && f < end && !drawnBefore.has(f));
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
  const predicted = (f: number) => (useModel ? s.prediction[f - start]! : 0);
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
  await recordDrawn(run, drawn, drawnBefore);
  stages.unshift({ stage: 'label store', framesIn: N, framesDecided: counters.labelsFromStore, seconds: 0 });
  stages.push({ stage: `reference detector (stratified random sample, ${blocks.length} time blocks)`, framesIn: drawn.size, framesDecided: drawn.size, seconds: (performance.now() - refStarted) / 1000 });
  const note = { useModel, sampled: estimate.sampled, blocks: blocks.length, exact: exact.length };
  return countResult(run, estimate, within, confidence, note);
}

/** Stores the frames this run's random sample drew with the model, so the next run draws them again. */
async function recordDrawn(run: CascadeRun, drawn: ReadonlySet<number>, drawnBefore: ReadonlySet<number>): Promise<void> {
  const { key } = run;
  const added = [...drawn].filter((f) => !drawnBefore.has(f));
  if (added.length > 0 || drawn.size !== drawnBefore.size) {
    const stored = await run.engine.catalog.findSpecializedModel(key);
    if (stored) {
      const metrics = { ...(stored.metrics as CascadeParams), estimationFrames: [...drawn].sort((a, b) => a - b) };
      await run.engine.catalog.putSpecializedModel({ ...key, architecture: stored.architecture, onnx: stored.onnx, manifest: stored.manifest, metrics });
    }
  }
}

/** Count: the answer row, its interval and the accuracy note. */
function countResult(
  run: CascadeRun,
  estimate: { value: number; halfWidth: number },
  within: number,
  confidence: number,
  note: { useModel: boolean; sampled: number; blocks: number; exact: number },
): QueryResult {
  const { query, handle, N, counters, stages } = run;
  if (query.shape !== 'aggregate') throw new Error('internal: count cascade on a non-aggregate query');
  const first = query.outputs[0]!;
  const target = query.accuracy.error;
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
    note: `estimate ${fmt(value)} ± ${fmt(half)} at ${Math.round(confidence * 100)}% confidence (target ± ${fmt(within * scale)}${target ? '' : ', the default'}): ${note.useModel ? "the specialized model's count on every frame, corrected in each time block by its mean residual on" : 'the mean in each time block of'} ${note.sampled} frames the reference detector labelled at random (stratified over ${note.blocks} time blocks), plus ${note.exact} frames known exactly`,
  };
  return assemble(query, handle, [row], value, { low: value - half, high: value + half, confidence }, accuracy, counters, stages, N, run.started);
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
async function chooseReducedDecode(engine: EngineSession, handle: VideoHandle, start: number, end: number, skip: number): Promise<{ maxGap: number } | undefined> {
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

async function loadCosts(engine: EngineSession, handle: VideoHandle): Promise<Costs> {
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

