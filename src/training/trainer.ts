/**
 * The trainer: mini-batch training of a specialized model inside ONNX Runtime, on low-resolution
 * frames the reference detector labelled, with a time-block split, class-balanced loss weights,
 * early stopping on validation loss, and a fixed seed that reproduces the model bit for bit.
 */
import { InterruptedError } from '../errors.js';
import { OnnxSession, TensorData } from '../inference/onnx-runtime.js';
import { dropoutMaskName, initParams, planNetwork, type LayerSpec, type NetworkPlan, type NetworkSpec, type Normalization } from './network.js';
import { exportModel, type FrameSpan, type SpecializedModelManifest, type TrainingProvenance } from './model-export.js';
import { Random } from './random.js';
import { buildInferenceGraph, buildTrainingGraph, headOutput, IO, type OptimizerSpec } from './training-graph.js';

/** Frames and their labels, in any order; `frames` gives each image's place in the video. */
export interface TrainingData {
  /** N x height x width x 3 RGB bytes. */
  readonly images: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Per image: presence (any value > 0 is positive), object count, or a regression target. */
  readonly labels: Float32Array | Int32Array;
  /** Frame index of each image in its video (for the time-block split). */
  readonly frames: Int32Array;
}

/**
 * What the model predicts: `presence` (sigmoid, binary cross-entropy), `count` (softmax over
 * buckets 0..maxCount, counts above go to the last bucket, BlazeIt-style), `regression` (MSE).
 */
export type TrainingTask =
  | { readonly kind: 'presence' }
  /**
   * `smoothing` (default 1): the target is a discretised Gaussian of this standard deviation (in
   * objects) around the true count, so neighbouring counts are near misses rather than plain
   * errors (counts are ordinal, and the reference detector's counts flicker by one). 0: one-hot.
   */
  | { readonly kind: 'count'; readonly maxCount: number; readonly smoothing?: number }
  | { readonly kind: 'regression' };

/** A NoScope-style network: `convBlocks` x (3x3 conv, ReLU, 2x2 max-pool), doubling filters, then dense, ReLU, dropout, output. */
export interface Architecture {
  readonly convBlocks: number;
  readonly baseFilters: number;
  readonly dense: number;
  /** Input side in pixels (square frames). */
  readonly inputSize: number;
}

export interface TrainingProgress {
  readonly epoch: number;
  readonly maxEpochs: number;
  /** Steps done in this epoch, and per epoch. */
  readonly step: number;
  readonly stepsPerEpoch: number;
  /** Mean training loss so far this epoch. */
  readonly trainLoss: number;
  /** Set once per epoch, after validation. */
  readonly validationLoss?: number;
}

export interface TrainOptions {
  readonly task: TrainingTask;
  /** Default: 2 blocks, 16 base filters, dense 64 at the data's size. */
  readonly architecture?: Omit<Architecture, 'inputSize'>;
  /** Explicit layers (overrides `architecture`); the last must be a dense layer of the task's width. */
  readonly layers?: readonly LayerSpec[];
  /** Default Adam with weight decay 1e-4. */
  readonly optimizer?: OptimizerSpec;
  /** Default 1e-3 (Adam), 1e-2 (SGD). */
  readonly learningRate?: number;
  /** Default 32. */
  readonly batchSize?: number;
  /** Default 40. */
  readonly maxEpochs?: number;
  /** Epochs without a better validation loss before stopping (default 8). */
  readonly patience?: number;
  readonly dropout?: number;
  /**
   * Training-time augmentation of the foreground: each frame's difference from the mean image is
   * mirrored (`flip`, probability 0.5) and shifted by up to `shift` pixels, then put back on the
   * mean image, so objects appear in new places over a consistent background. Off by default:
   * with a fixed camera, where things appear is informative (mirroring put shop-door figures on
   * the pavement and cost held-out accuracy on shopfront_cctv). `{}` means flip + shift width/16.
   */
  readonly augment?: { readonly flip?: boolean; readonly shift?: number } | false;
  /** Default 0. The same seed, data and thread count give the same model, bit for bit. */
  readonly seed?: number;
  /** Time-block split (see {@link timeSplit}). With `test: 0`, held-out figures are the validation set's. */
  readonly split?: SplitOptions;
  /**
   * `balanced` weighs each class by the inverse of its training frequency (default for presence),
   * then adds the log class priors to the output logits so probabilities match real frequencies.
   */
  readonly classWeighting?: 'balanced' | 'none';
  /** ONNX Runtime intra-op threads (default: all cores). */
  readonly threads?: number;
  /** Run the training and evaluation graphs on a worker thread (a live watch trains while frames arrive). */
  readonly offThread?: boolean;
  readonly provenance?: TrainingProvenance;
  readonly onProgress?: (progress: TrainingProgress) => void;
  /** Stops training at the next step with an `InterruptedError` (sessions are released). */
  readonly signal?: AbortSignal;
}

/** Figures on one labelled subset. */
export interface EvaluationMetrics {
  readonly frames: number;
  /** Mean loss (unweighted). */
  readonly loss: number;
  /** Presence: probability >= 0.5; count: argmax bucket; regression: rounded value. */
  readonly accuracy: number;
  /** confusion[actual][predicted] (presence: 2x2, count: buckets; absent for regression). */
  readonly confusion?: readonly (readonly number[])[];
  /** Count and regression: mean absolute error of the predicted value (expected count for buckets). */
  readonly meanAbsoluteError?: number;
  /** Count and regression: mean absolute error of always predicting the training mean. */
  readonly baselineMeanAbsoluteError?: number;
}

export interface TrainingMetrics {
  readonly epochs: number;
  readonly bestEpoch: number;
  readonly trainLoss: number;
  readonly validation: EvaluationMetrics;
  /** The later time blocks, never seen in training or early stopping (validation when the test share is 0). */
  readonly heldOut: EvaluationMetrics;
  readonly trainFrames: number;
}

/** Wall-clock figures of a run (kept out of the manifest, so a seed reproduces the export byte for byte). */
export interface TrainingTiming {
  readonly seconds: number;
  /** Training images per second over the optimisation steps (validation excluded). */
  readonly imagesPerSecond: number;
}

export interface TrainedModel {
  readonly spec: NetworkSpec;
  readonly normalization: Normalization;
  /** Flat parameter vector (layout: `planNetwork(spec).params`). */
  readonly params: Float32Array;
  /** The exported inference graph (see {@link exportModel}). */
  readonly onnx: Uint8Array;
  readonly manifest: SpecializedModelManifest;
  readonly metrics: TrainingMetrics;
  readonly timing: TrainingTiming;
}

/** Output width of the last layer for a task. */
export function taskOutputs(task: TrainingTask): number {
  return task.kind === 'count' ? task.maxCount + 1 : 1;
}

/** The layers of a NoScope-style architecture. */
export function noScopeLayers(arch: Omit<Architecture, 'inputSize'>, outputs: number, dropout = 0.5): LayerSpec[] {
  const layers: LayerSpec[] = [];
  for (let b = 0; b < arch.convBlocks; b++) {
    layers.push({ kind: 'conv2d', filters: arch.baseFilters * 2 ** b, kernel: 3, padding: 1 }, { kind: 'relu' }, { kind: 'maxpool', kernel: 2 });
  }
  layers.push({ kind: 'flatten' }, { kind: 'dense', units: arch.dense }, { kind: 'relu' });
  if (dropout > 0) layers.push({ kind: 'dropout', rate: dropout });
  layers.push({ kind: 'dense', units: outputs });
  return layers;
}

const LOSS = { presence: 'sigmoid-bce', count: 'softmax-ce', regression: 'mse' } as const;

/**
 * Trains a specialized model and exports it.
 *
 * @example
 * const model = await trainModel({ images, width: 64, height: 64, labels, frames }, { task: { kind: 'presence' }, seed: 1 });
 * console.log(model.metrics.heldOut.accuracy);
 * writeFileSync('car.onnx', model.onnx);
 */
export async function trainModel(data: TrainingData, options: TrainOptions): Promise<TrainedModel> {
  const started = performance.now();
  const run = prepareTraining(data, options);
  const sessionOptions = { ...(options.threads ? { intraOpThreads: options.threads } : {}), ...(options.offThread ? { offThread: true } : {}) };
  const step = await OnnxSession.create(buildTrainingGraph(run.spec, run.normalization, run.optimizer), sessionOptions);
  const evaluator = await OnnxSession.create(buildInferenceGraph(run.spec, run.normalization), sessionOptions);
  try {
    const fit = await fitEpochs(run, step, evaluator, options);
    return await finishTraining(run, evaluator, fit, options, started);
  } finally {
    await step.dispose();
    await evaluator.dispose();
  }
}

/** Everything a training run fixes before its first step. */
interface TrainingRun {
  readonly data: TrainingData;
  readonly task: TrainingTask;
  readonly spec: NetworkSpec;
  readonly plan: NetworkPlan;
  readonly seed: number;
  readonly rng: Random;
  readonly split: Split;
  readonly targets: Float32Array;
  readonly normalization: Normalization;
  readonly balance: ReturnType<typeof classBalance>;
  readonly optimizer: OptimizerSpec;
  readonly lr: number;
  readonly batchSize: number;
  readonly augment: { flip: boolean; shift: number } | undefined;
}

/** Checks the data, plans the network and fixes split, targets, normalization and class weights. */
function prepareTraining(data: TrainingData, options: TrainOptions): TrainingRun {
  const { width, height } = data;
  const n = data.frames.length;
  const frameSize = width * height * 3;
  if (data.images.length !== n * frameSize) throw new RangeError(`images hold ${data.images.length} bytes, expected ${n} x ${width} x ${height} x 3`);
  if (data.labels.length !== n) throw new RangeError(`${data.labels.length} labels for ${n} images`);
  const task = options.task;
  const outputs = taskOutputs(task);
  const spec: NetworkSpec = {
    width,
    height,
    loss: LOSS[task.kind],
    layers: options.layers ?? noScopeLayers(options.architecture ?? { convBlocks: 2, baseFilters: 16, dense: 64 }, outputs, options.dropout ?? 0.5),
  };
  const plan = planNetwork(spec);
  if (plan.outputs !== outputs) throw new RangeError(`the last layer has ${plan.outputs} units; task '${task.kind}' needs ${outputs}`);
  const seed = options.seed ?? 0;
  const rng = new Random(seed);
  const split = timeSplit(data.frames, options.split);
  if (split.train.length === 0) throw new RangeError('no frames fall in the training blocks');
  const targets = Float32Array.from(data.labels, (v) => (task.kind === 'presence' ? (v > 0 ? 1 : 0) : task.kind === 'count' ? Math.min(Math.max(Math.round(v), 0), task.maxCount) : v));
  const normalization = computeNormalization(data.images, frameSize, split.train);
  const balance = classBalance(task, targets, split.train, options.classWeighting ?? (task.kind === 'presence' ? 'balanced' : 'none'));
  const optimizer = options.optimizer ?? { kind: 'adam', weightDecay: 1e-4 };
  const lr = options.learningRate ?? (optimizer.kind === 'adam' ? 1e-3 : 1e-2);
  const augment = options.augment ? { flip: options.augment.flip ?? true, shift: options.augment.shift ?? Math.round(width / 16) } : undefined;
  return { data, task, spec, plan, seed, rng, split, targets, normalization, balance, optimizer, lr, batchSize: options.batchSize ?? 32, augment };
}

/** Parameters and optimizer state between steps. */
interface StepState {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  t: number;
}

interface Fit {
  readonly best: { readonly params: Float32Array; readonly loss: number; readonly epoch: number };
  readonly epochs: number;
  readonly trainLoss: number;
  readonly trainSeconds: number;
  readonly trained: number;
}

/** The epochs: shuffled batches, validation after each, early stopping on validation loss. */
async function fitEpochs(run: TrainingRun, step: OnnxSession, evaluator: OnnxSession, options: TrainOptions): Promise<Fit> {
  const maxEpochs = options.maxEpochs ?? 40;
  const patience = options.patience ?? 8;
  const P = run.plan.paramCount;
  const state: StepState = { params: initParams(run.plan, run.seed), m: new Float32Array(P), v: new Float32Array(P), t: 0 };
  let best = { params: state.params, loss: Infinity, epoch: 0 };
  let epoch = 0;
  let trainLoss = NaN;
  let trainSeconds = 0;
  let trained = 0;
  const hasValidation = run.split.validation.length > 0;
  const order = Int32Array.from(run.split.train);
  const stepsPerEpoch = Math.ceil(order.length / run.batchSize);
  for (epoch = 1; epoch <= maxEpochs; epoch++) {
    run.rng.shuffle(order);
    let lossSum = 0;
    const epochStart = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (options.signal?.aborted) throw new InterruptedError();
      const idx = order.subarray(s * run.batchSize, Math.min((s + 1) * run.batchSize, order.length));
      lossSum += await trainStep(run, step, state, idx);
      trained += idx.length;
      options.onProgress?.({ epoch, maxEpochs, step: s + 1, stepsPerEpoch, trainLoss: lossSum / (s + 1) });
    }
    trainSeconds += (performance.now() - epochStart) / 1000;
    trainLoss = lossSum / stepsPerEpoch;
    if (!Number.isFinite(trainLoss)) throw new RangeError(`training diverged at epoch ${epoch} (loss ${trainLoss}); lower the learning rate`);
    const model = adjustLogits(run.plan, state.params, run.balance.logPrior);
    const validationLoss = hasValidation ? score(await predict(evaluator, run.plan, run.data, run.split.validation, model), run.targets, run.split.validation, run.task, run.plan.outputs, 0).loss : trainLoss;
    options.onProgress?.({ epoch, maxEpochs, step: stepsPerEpoch, stepsPerEpoch, trainLoss, validationLoss });
    if (validationLoss < best.loss - 1e-4) best = { params: model, loss: validationLoss, epoch };
    else if (epoch - best.epoch >= patience) break;
  }
  return { best, epochs: Math.min(epoch, maxEpochs), trainLoss, trainSeconds, trained };
}

/** One optimisation step on the batch `idx`; returns its loss and updates `state`. */
async function trainStep(run: TrainingRun, step: OnnxSession, state: StepState, idx: Int32Array): Promise<number> {
  const { data, plan, optimizer, rng } = run;
  const { width, height } = data;
  const frameSize = width * height * 3;
  const P = plan.paramCount;
  const B = idx.length;
  const w = new Float32Array(B);
  for (let i = 0; i < B; i++) w[i] = run.balance.weight(run.targets[idx[i]!]!);
  const wSum = w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < B; i++) w[i]! /= wSum;
  state.t++;
  const frames = framesTensor(data.images, frameSize, idx, width, height);
  const feeds: Record<string, TensorData> = {
    [IO.frames]: run.augment ? augmentFrames(frames, run.normalization.mean, run.augment, rng) : frames,
    [IO.labels]: TensorData.float32(labelRows(run.task, run.targets, idx, plan.outputs), [B, plan.outputs]),
    [IO.weights]: TensorData.float32(w, [B]),
    [IO.params]: TensorData.float32(state.params, [P]),
    [IO.stateM]: TensorData.float32(state.m, [P]),
    [IO.lr]: TensorData.float32(Float32Array.of(run.lr), []),
  };
  if (optimizer.kind === 'adam') {
    feeds[IO.stateV] = TensorData.float32(state.v, [P]);
    feeds[IO.biasCorrection1] = TensorData.float32(Float32Array.of(1 / (1 - (optimizer.beta1 ?? 0.9) ** state.t)), []);
    feeds[IO.biasCorrection2] = TensorData.float32(Float32Array.of(1 / (1 - (optimizer.beta2 ?? 0.999) ** state.t)), []);
  }
  for (const layer of plan.layers) {
    if (layer.spec.kind !== 'dropout' || !(layer.spec.rate > 0)) continue;
    const rate = layer.spec.rate;
    const size = layer.inShape.reduce((a, b) => a * b, B);
    const mask = new Float32Array(size);
    for (let i = 0; i < size; i++) mask[i] = rng.next() < rate ? 0 : 1 / (1 - rate);
    feeds[dropoutMaskName(layer)] = TensorData.float32(mask, [B, ...layer.inShape]);
  }
  const out = await step.run(feeds);
  state.params = out[IO.paramsOut]!.data as Float32Array;
  state.m = out[IO.stateMOut]!.data as Float32Array;
  if (optimizer.kind === 'adam') state.v = out[IO.stateVOut]!.data as Float32Array;
  return (out[IO.loss]!.data as Float32Array)[0]!;
}

/** Scores the best epoch's model on validation and held-out frames, and exports it. */
async function finishTraining(run: TrainingRun, evaluator: OnnxSession, fit: Fit, options: TrainOptions, started: number): Promise<TrainedModel> {
  const { data, split, task, plan, targets, best } = { ...run, best: fit.best };
  const trainMean = mean(targets, split.train);
  const evaluate = async (idx: Int32Array) => score(await predict(evaluator, plan, data, idx, best.params), targets, idx, task, plan.outputs, trainMean);
  const validation = split.validation.length > 0 ? await evaluate(split.validation) : emptyMetrics();
  const heldOut = split.test.length > 0 ? await evaluate(split.test) : validation;
  const metrics: TrainingMetrics = { epochs: fit.epochs, bestEpoch: best.epoch, trainLoss: fit.trainLoss, validation, heldOut, trainFrames: split.train.length };
  const ranges = { train: frameSpans(data.frames, split.train), validation: frameSpans(data.frames, split.validation), test: frameSpans(data.frames, split.test) };
  const { onnx, manifest } = exportModel(run.spec, run.normalization, best.params, {
    task,
    seed: run.seed,
    optimizer: run.optimizer,
    learningRate: run.lr,
    batchSize: run.batchSize,
    frames: { count: data.frames.length, ...ranges },
    metrics,
    ...(options.provenance ?? {}),
  });
  const timing = { seconds: (performance.now() - started) / 1000, imagesPerSecond: fit.trained / fit.trainSeconds };
  return { spec: run.spec, normalization: run.normalization, params: best.params, onnx, manifest, metrics, timing };
}

interface Split {
  readonly train: Int32Array;
  readonly validation: Int32Array;
  readonly test: Int32Array;
}

export interface SplitOptions {
  /** Blocks the frame-index span is cut into (default 20). */
  readonly blocks?: number;
  /** Share of the span used for early stopping (default 0.15). */
  readonly validation?: number;
  /** Share of the span held out at the end, never trained on nor used for stopping (default 0.2). */
  readonly test?: number;
}

/**
 * Splits by time blocks, never by random adjacent frames: the span of frame indices is cut into
 * `blocks` equal blocks; the last `test` share of them is the held-out test set (the later time
 * blocks); validation blocks are spread evenly over the earlier span (so early stopping sees the
 * whole training period), and the remaining blocks are trained on.
 */
export function timeSplit(frames: Int32Array, options: SplitOptions = {}): Split {
  const blocks = options.blocks ?? 20;
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of frames) {
    lo = Math.min(lo, f);
    hi = Math.max(hi, f);
  }
  const span = hi - lo + 1;
  const testBlocks = Math.round(blocks * (options.test ?? 0.2));
  const earlier = blocks - testBlocks;
  const rate = Math.min(1, (blocks * (options.validation ?? 0.15)) / Math.max(earlier, 1));
  const parts: [number[], number[], number[]] = [[], [], []];
  const order = Array.from(frames.keys()).sort((a, b) => frames[a]! - frames[b]! || a - b);
  for (const i of order) {
    const block = Math.min(blocks - 1, Math.floor(((frames[i]! - lo) * blocks) / span));
    const validation = Math.floor((block + 1) * rate + 1e-9) > Math.floor(block * rate + 1e-9);
    parts[block >= earlier ? 2 : validation ? 1 : 0].push(i);
  }
  return { train: Int32Array.from(parts[0]), validation: Int32Array.from(parts[1]), test: Int32Array.from(parts[2]) };
}

/** Runs of consecutive (in time order) labelled frames of one part, as [start, end) frame spans. */
function frameSpans(frames: Int32Array, idx: Int32Array): FrameSpan[] {
  const order = Array.from(frames.keys()).sort((a, b) => frames[a]! - frames[b]! || a - b);
  const rank = new Int32Array(frames.length);
  order.forEach((i, r) => (rank[i] = r));
  const spans: FrameSpan[] = [];
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j]!;
    const last = spans[spans.length - 1];
    if (last && j > 0 && rank[i] === rank[idx[j - 1]!]! + 1) spans[spans.length - 1] = { start: last.start, end: frames[i]! + 1, frames: last.frames + 1 };
    else spans.push({ start: frames[i]!, end: frames[i]! + 1, frames: 1 });
  }
  return spans;
}

/** Mean image of the training frames, and one global scale (1 / std after mean subtraction). */
function computeNormalization(images: Uint8Array, frameSize: number, train: Int32Array): Normalization {
  const sum = new Float64Array(frameSize);
  for (const i of train) {
    const off = i * frameSize;
    for (let j = 0; j < frameSize; j++) sum[j]! += images[off + j]!;
  }
  const mean = Float32Array.from(sum, (s) => s / train.length);
  let sq = 0;
  for (const i of train) {
    const off = i * frameSize;
    for (let j = 0; j < frameSize; j++) sq += (images[off + j]! - mean[j]!) ** 2;
  }
  const std = Math.sqrt(sq / (train.length * frameSize));
  return { mean, scale: 1 / Math.max(std, 1) };
}

/**
 * Per-class loss weights, and the log class priors to add back to the output logits afterwards.
 * `balanced` trains as if every class were equally frequent; adding log(prior) to the logits
 * (logit adjustment) then gives probabilities calibrated to the real class frequencies, so the
 * minority class is learned well without being over-predicted.
 */
function classBalance(task: TrainingTask, targets: Float32Array, train: Int32Array, mode: 'balanced' | 'none'): { weight: (target: number) => number; logPrior?: Float64Array } {
  if (mode === 'none' || task.kind === 'regression') return { weight: () => 1 };
  const classes = task.kind === 'presence' ? 2 : task.maxCount + 1;
  const counts = new Float64Array(classes);
  for (const i of train) counts[targets[i]!]!++;
  const present = counts.filter((c) => c > 0).length;
  const w = Float64Array.from(counts, (c) => (c > 0 ? train.length / (present * c) : 0));
  const logPrior = Float64Array.from(counts, (c) => Math.log(Math.max(c, 0.5) / train.length));
  return { weight: (target) => w[target]!, logPrior: task.kind === 'presence' ? Float64Array.of(logPrior[1]! - logPrior[0]!) : logPrior };
}

/** A copy of `params` with `logPrior` added to the output layer's bias. */
function adjustLogits(plan: NetworkPlan, params: Float32Array, logPrior: Float64Array | undefined): Float32Array {
  if (!logPrior) return params;
  const bias = plan.params[plan.params.length - 1]!;
  const out = Float32Array.from(params);
  for (let k = 0; k < bias.size; k++) out[bias.offset + k]! += logPrior[k]!;
  return out;
}

function labelRows(task: TrainingTask, targets: Float32Array, idx: ArrayLike<number>, outputs: number): Float32Array {
  const rows = new Float32Array(idx.length * outputs);
  for (let i = 0; i < idx.length; i++) {
    const y = targets[idx[i]!]!;
    if (task.kind === 'count') rows.set(countTarget(y, outputs, task.smoothing ?? 1), i * outputs);
    else rows[i] = y;
  }
  return rows;
}

function countTarget(count: number, buckets: number, sigma: number): Float32Array {
  const row = new Float32Array(buckets);
  if (sigma <= 0) {
    row[count] = 1;
    return row;
  }
  let sum = 0;
  for (let k = 0; k < buckets; k++) sum += row[k] = Math.exp(-0.5 * ((k - count) / sigma) ** 2);
  return row.map((v) => v / sum);
}

function framesTensor(images: Uint8Array, frameSize: number, idx: ArrayLike<number>, width: number, height: number): TensorData {
  const out = new Uint8Array(idx.length * frameSize);
  for (let i = 0; i < idx.length; i++) out.set(images.subarray(idx[i]! * frameSize, (idx[i]! + 1) * frameSize), i * frameSize);
  return { type: 'uint8', data: out, dims: [idx.length, height, width, 3] };
}

/** Mirrors and shifts each frame's difference from the mean image (see `TrainOptions.augment`), in place. */
function augmentFrames(frames: TensorData, mean: Float32Array, augment: { flip: boolean; shift: number }, rng: Random): TensorData {
  const [n, h, w] = frames.dims as [number, number, number];
  const data = frames.data as Uint8Array;
  const src = new Uint8Array(h * w * 3);
  for (let f = 0; f < n; f++) {
    const frame = data.subarray(f * h * w * 3, (f + 1) * h * w * 3);
    src.set(frame);
    const flip = augment.flip && rng.next() < 0.5;
    const dx = Math.floor(rng.next() * (2 * augment.shift + 1)) - augment.shift;
    const dy = Math.floor(rng.next() * (2 * augment.shift + 1)) - augment.shift;
    for (let y = 0; y < h; y++) {
      const sy = y - dy;
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 3;
        const sx0 = x - dx;
        const sx = flip ? w - 1 - sx0 : sx0;
        if (sy < 0 || sy >= h || sx0 < 0 || sx0 >= w) {
          for (let c = 0; c < 3; c++) frame[o + c] = Math.round(mean[o + c]!);
          continue;
        }
        const so = (sy * w + sx) * 3;
        for (let c = 0; c < 3; c++) frame[o + c] = Math.min(255, Math.max(0, Math.round(mean[o + c]! + src[so + c]! - mean[so + c]!)));
      }
    }
  }
  return frames;
}

function mean(values: Float32Array, idx: Int32Array): number {
  let s = 0;
  for (const i of idx) s += values[i]!;
  return idx.length ? s / idx.length : 0;
}

function emptyMetrics(): EvaluationMetrics {
  return { frames: 0, loss: NaN, accuracy: NaN };
}

/** Runs the evaluation graph over a subset: the head output of each frame, in order. */
async function predict(session: OnnxSession, plan: NetworkPlan, data: TrainingData, idx: Int32Array, params: Float32Array): Promise<Float32Array> {
  const frameSize = data.width * data.height * 3;
  const D = headOutput(plan).dims.length === 1 ? 1 : plan.outputs;
  const out = new Float32Array(idx.length * D);
  const paramsTensor = TensorData.float32(params, [params.length]);
  for (let start = 0; start < idx.length; start += 256) {
    const batch = idx.subarray(start, Math.min(start + 256, idx.length));
    const result = await session.run({ [IO.frames]: framesTensor(data.images, frameSize, batch, data.width, data.height), [IO.params]: paramsTensor });
    out.set(result[headOutput(plan).name]!.data as Float32Array, start * D);
  }
  return out;
}

/** Scores a subset's predictions (float64, unweighted). */
function score(y: Float32Array, targets: Float32Array, idx: Int32Array, task: TrainingTask, D: number, trainMean: number): EvaluationMetrics {
  const classes = task.kind === 'presence' ? 2 : task.kind === 'count' ? D : 0;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let loss = 0;
  let correct = 0;
  let absError = 0;
  let baseError = 0;
  for (let i = 0; i < idx.length; i++) {
    const target = targets[idx[i]!]!;
    if (task.kind === 'presence') {
      const p = Math.min(Math.max(y[i]!, 1e-7), 1 - 1e-7);
      loss -= target * Math.log(p) + (1 - target) * Math.log(1 - p);
      const predicted = y[i]! >= 0.5 ? 1 : 0;
      confusion[target]![predicted]!++;
      if (predicted === target) correct++;
    } else if (task.kind === 'count') {
      const row = y.subarray(i * D, (i + 1) * D);
      const soft = countTarget(target, D, task.smoothing ?? 1);
      let arg = 0;
      let expected = 0;
      for (let k = 0; k < D; k++) {
        loss -= soft[k]! * Math.log(Math.max(row[k]!, 1e-7));
        if (row[k]! > row[arg]!) arg = k;
        expected += k * row[k]!;
      }
      confusion[target]![arg]!++;
      if (arg === target) correct++;
      absError += Math.abs(expected - target);
      baseError += Math.abs(trainMean - target);
    } else {
      loss += (y[i]! - target) ** 2;
      if (Math.round(y[i]!) === Math.round(target)) correct++;
      absError += Math.abs(y[i]! - target);
      baseError += Math.abs(trainMean - target);
    }
  }
  const count = idx.length;
  return {
    frames: count,
    loss: loss / count,
    accuracy: correct / count,
    ...(classes > 0 ? { confusion } : {}),
    ...(task.kind !== 'presence' ? { meanAbsoluteError: absError / count, baselineMeanAbsoluteError: baseError / count } : {}),
  };
}
