/**
 * The cascade on a live stream for aggregates (FCOUNT, COUNT, COUNT(DISTINCT frame) per window):
 * BlazeIt's control variates. The reference labels what it keeps up with; once there are enough
 * labels a specialized count model is trained (60% of them) and measured on the rest. Its output is
 * mapped to counts by a line fitted on the held-out labels (the regression estimator's
 * coefficient: a model that ranks frames well but is off in scale or level still helps, and the
 * map never makes it worse than the mean), and its held-out residual spread `sigma` (the
 * reference's count minus the mapped model's, on n - 2 degrees of freedom) gets a chi-square
 * upper bound at the query's confidence. When that bound is below the spread of the counts
 * themselves the model helps, and it runs on every frame; the reference then sees only a random
 * sample of frames (the share a window needs for the query's `ERROR WITHIN` at that bound), and
 * each window's answer is the difference estimator: the model's sum over every frame plus the
 * sample's mean residual (unbiased whatever the model's quality, with a confidence interval from
 * the window's own residuals). The sample's residuals are also tested per window against the
 * held-out bound (chi-square; after each sampled frame at a tenth of the risk): drift switches the
 * model off and labelling starts over. With a store, labels and the model are kept for a warm
 * restart.
 */
import { linearRegression, probit, sampleStandardDeviation } from 'simple-statistics';
import { SpecializedModel } from '../inference/specialized-model.js';
import { trainModel } from '../training/trainer.js';
import { LabelBuffer, STREAM_MODEL_SIZE, type StreamStore, type TrainingEvent } from './stream-labels.js';

/** Labels before the first training: a count model needs some of each count to learn from. */
const FIRST_TRAINING = 100;

export type CountEvent =
  | TrainingEvent
  | {
      readonly type: 'count-model';
      /** The model reduces the reference's sample (it runs) or not (labelling goes on). */
      readonly running: boolean;
      readonly heldOut: {
        readonly frames: number;
        /** Spread of the reference's counts, and of the residuals (count minus the model's) with its upper bound. */
        readonly countSd: number;
        readonly residualSd: number;
        readonly residualSdBound: number;
        /** The line from the model's output to a count (fitted on all held-out frames). */
        readonly calibration?: { readonly intercept: number; readonly slope: number };
      };
      readonly trainSeconds: number;
      readonly resumed?: boolean;
    }
  | {
      /**
       * A window of the running model's checked frames (the reference's sample): their residuals
       * against the held-out spread bound. Drift (their spread significantly above it: the scene
       * changed) switches the model off, and labelling starts over.
       */
      readonly type: 'count-verification';
      readonly start: number;
      readonly end: number;
      readonly sampled: number;
      /** Root mean square of the sampled residuals (about 0), and the held-out bound it was tested against. */
      readonly rmsResidual: number;
      readonly allowedSd: number;
      readonly drift: boolean;
    };

type CountModelEvent = Extract<CountEvent, { type: 'count-model' }>;

interface Running {
  readonly model: SpecializedModel;
  readonly residualSdBound: number;
  readonly calibration: { readonly intercept: number; readonly slope: number };
}

/** The least-squares line from `x` to `y` (slope 0 when `x` does not vary). */
function fitLine(x: readonly number[], y: readonly number[]): { intercept: number; slope: number } {
  const { m, b } = linearRegression(x.map((v, i) => [v, y[i]!]));
  return Number.isFinite(m) && Number.isFinite(b) ? { intercept: b, slope: m } : { intercept: y.reduce((a, v) => a + v, 0) / Math.max(1, y.length), slope: 0 };
}

/**
 * The line from `x` to `y` and the spread of `y` about it, on `n - 2` degrees of freedom (the
 * regression's own unbiased estimate: the two fitted coefficients are paid for).
 */
export function lineSpread(x: readonly number[], y: readonly number[]): { line: { intercept: number; slope: number }; sd: number; degreesOfFreedom: number } {
  const line = fitLine(x, y);
  const degreesOfFreedom = x.length - 2;
  if (degreesOfFreedom < 1) return { line, sd: Number.POSITIVE_INFINITY, degreesOfFreedom };
  let sse = 0;
  for (let i = 0; i < x.length; i++) sse += (y[i]! - (line.intercept + line.slope * x[i]!)) ** 2;
  return { line, sd: Math.sqrt(sse / degreesOfFreedom), degreesOfFreedom };
}

/** The chi-square quantile with `k` degrees of freedom at `p` (Wilson-Hilferty). */
function chiSquareQuantile(k: number, p: number): number {
  const z = probit(p);
  return k * Math.max(0, 1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k))) ** 3;
}

/**
 * Whether `n` residuals with sum of squares `sumSq` spread significantly more than `sd` allows:
 * sumSq / sd^2 above the chi-square quantile with n degrees of freedom at 1 - risk.
 */
export function spreadExceeds(sumSq: number, n: number, sd: number, risk: number): boolean {
  return n >= 2 && sd > 0 && sumSq / sd ** 2 > chiSquareQuantile(n, 1 - risk);
}

/** Upper confidence bound on a standard deviation from `n` values (chi-square, Wilson-Hilferty quantile). */
export function sdUpperBound(sd: number, n: number, confidence: number): number {
  if (n < 2) return Number.POSITIVE_INFINITY;
  const k = n - 1;
  const chi = chiSquareQuantile(k, (1 - confidence) / 2);
  return chi > 0 ? sd * Math.sqrt(k / chi) : Number.POSITIVE_INFINITY;
}

export class StreamCounter {
  private readonly labels: LabelBuffer;
  private running: Running | undefined;
  private training: Promise<void> | undefined;
  private need = FIRST_TRAINING;
  private attempts = 0;
  /** Scene changes so far: a training begun before one does not install its model after it. */
  private generation = 0;
  private readonly pending: CountEvent[] = [];
  private window: { index: number; sampled: number; sumSq: number } | undefined;

  constructor(
    private readonly confidence: number,
    private readonly threads?: number,
    private readonly store?: StreamStore,
    /** Stream seconds per verification window. */
    private readonly windowSeconds = 60,
  ) {
    this.labels = new LabelBuffer(store);
  }

  get active(): boolean {
    return this.running !== undefined;
  }

  /** The running model's residual spread bound (what windows fall back on with fewer than 2 sampled frames). */
  get residualSdBound(): number | undefined {
    return this.running?.residualSdBound;
  }

  drain(): CountEvent[] {
    return this.pending.splice(0);
  }

  /**
   * The share of frames the reference must see for a window of `frames` frames to meet `within`
   * (per frame) at the query's confidence, with the running model (1 when it is not running).
   */
  sampleRate(frames: number, within: number): number {
    if (!this.running) return 1;
    const z = probit(1 - (1 - this.confidence) / 2);
    const n0 = (z * this.running.residualSdBound / within) ** 2;
    const n = n0 / (1 + n0 / Math.max(1, frames));
    return Math.min(1, Math.max(2 / Math.max(1, frames), n / Math.max(1, frames)));
  }

  /**
   * A sampled frame's residual (the reference's value minus the model's): windows of them are
   * tested against the held-out spread bound (at half the risk; after each frame at a tenth of
   * that, so that a model gone wrong stops within a few frames).
   */
  verified(time: number, residual: number): void {
    if (!this.running) return;
    const index = Math.floor(time / this.windowSeconds);
    if (this.window && this.window.index !== index) this.closeWindow();
    this.window ??= { index, sampled: 0, sumSq: 0 };
    this.window.sampled++;
    this.window.sumSq += residual ** 2;
    if (spreadExceeds(this.window.sumSq, this.window.sampled, this.running.residualSdBound, (1 - this.confidence) / 20)) this.closeWindow(time);
  }

  private closeWindow(at?: number): void {
    const w = this.window!;
    this.window = undefined;
    const allowedSd = this.running!.residualSdBound;
    const drift = spreadExceeds(w.sumSq, w.sampled, allowedSd, (1 - this.confidence) / 2);
    const start = w.index * this.windowSeconds;
    this.pending.push({ type: 'count-verification', start, end: at ?? start + this.windowSeconds, sampled: w.sampled, rmsResidual: Math.sqrt(w.sumSq / Math.max(1, w.sampled)), allowedSd, drift });
    if (!drift) return;
    const model = this.running!.model;
    this.running = undefined;
    void model.dispose();
    // The old scene's labels no longer describe the stream.
    this.labels.clear();
    this.need = FIRST_TRAINING;
    this.generation++;
  }

  /** A frame the reference decided while the model is not running: a label; training starts once there are enough. */
  addLabel(thumb: Uint8Array, frame: number, value: number): void {
    if (this.running) return;
    this.labels.add(thumb, frame, value);
    if (!this.training && this.labels.length >= this.need && this.labels.positives > 0) this.training = this.train().finally(() => (this.training = undefined));
  }

  /** The model's expected count on a frame (undefined when it is not running). */
  async score(thumb: Uint8Array, frame: number): Promise<number | undefined> {
    if (!this.running) return undefined;
    const [score] = await this.running.model.score({ width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE, count: 1, frames: Int32Array.of(frame), timestamps: new Float64Array(1), data: thumb });
    const { intercept, slope } = this.running.calibration;
    return intercept + slope * score!;
  }

  async resume(): Promise<void> {
    const isRunning = (state: unknown): state is CountModelEvent => (state as CountModelEvent | undefined)?.running === true;
    const stored = await this.labels.resume(isRunning, this.threads);
    if (!stored) return;
    this.running = { model: stored.model, residualSdBound: stored.state.heldOut.residualSdBound, calibration: stored.state.heldOut.calibration ?? { intercept: 0, slope: 1 } };
    this.pending.push({ ...stored.state, trainSeconds: 0, resumed: true });
  }

  async dispose(): Promise<void> {
    await this.training?.catch(() => undefined);
    await this.labels.close();
    await this.running?.model.dispose();
    this.running = undefined;
  }

  takeStoreError(): unknown {
    return this.labels.takeStoreError();
  }

  private async train(): Promise<void> {
    this.attempts++;
    this.pending.push({ type: 'training', labelled: this.labels.length, positives: this.labels.positives, negatives: this.labels.negatives, attempt: this.attempts });
    const started = performance.now();
    const generation = this.generation;
    const { train, held } = this.labels.snapshot();
    const trained = await trainModel(
      { ...train, width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE },
      { task: { kind: 'regression' }, maxEpochs: 20, split: { test: 0 }, offThread: true, ...(this.threads ? { threads: this.threads } : {}) },
    );
    const model = await SpecializedModel.load(trained.onnx, this.threads ? { threads: this.threads } : {});
    const n = held.labels.length;
    const scores = await model.score({ width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE, count: n, frames: held.frames, timestamps: new Float64Array(n), data: held.images });
    const counts = Array.from(held.labels);
    const { line: calibration, sd: residualSd, degreesOfFreedom } = lineSpread(Array.from(scores), counts);
    const countSd = n > 1 ? sampleStandardDeviation(counts) : 0;
    const residualSdBound = sdUpperBound(residualSd, degreesOfFreedom + 1, this.confidence);
    const running = residualSdBound < countSd && generation === this.generation;
    const event: CountEvent = { type: 'count-model', running, heldOut: { frames: n, countSd, residualSd, residualSdBound, calibration }, trainSeconds: (performance.now() - started) / 1000 };
    this.pending.push(event);
    if (!running) {
      await model.dispose();
      // A model trained on the scene before a change leaves the new scene's schedule alone.
      if (generation === this.generation) this.need = Math.ceil(this.need * 1.5);
      return;
    }
    this.running = { model, residualSdBound, calibration };
    this.labels.putModel(trained.onnx, event);
  }
}
