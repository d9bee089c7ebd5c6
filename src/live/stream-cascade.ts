/**
 * The cascade on a live stream, for predicates decided per frame (selections, LIMIT, HAVING):
 *
 * 1. **Labelling**: the reference detector decides every frame the machine keeps up with; each
 *    decided frame is kept as a thumbnail with its label.
 * 2. **Training and certification**: once the labels hold enough positives and negatives for the
 *    held-out check to be able to pass (sizes from the targets, below), a specialized model is
 *    trained on 60% of them and NoScope's thresholds are calibrated on the other 40% (alternating
 *    blocks of consecutive frames);
 *    the cascade is switched on only if Clopper-Pearson upper bounds (at the query's confidence,
 *    half the risk per error kind) on the held-out miss and false-alarm rates of its decisions
 *    are within the targets, and if it saves the reference work: the share of frames the
 *    reference would still take (the held-out uncertain share, plus the verification sample of
 *    the rest) must be below 1. Otherwise labelling goes on and it tries again with half as many
 *    labels again (of either class: on a stream where one is rare, the other may be the one that
 *    grows). If that share is not below what the reference sustains at its measured speed (it
 *    stays saturated), labelling goes on while the cascade runs (the frames the reference decides:
 *    uncertain ones and the verification sample), and a retrained model that leaves it less
 *    replaces the running one.
 * 3. **Running**: the model decides the frames it is sure of; the others go to the reference. A
 *    verification sample of the model's decisions also goes to the reference (those frames take
 *    the reference's answer). Per window of stream time, the sample's errors in each stratum are
 *    tested against the held-out bound (one-sided binomial test at the query's risk, and after
 *    each checked frame at a tenth of it, so that a cascade gone wrong stops within a few
 *    checked frames instead of at the window's end); an error rate significantly above it (the
 *    scene drifted: night, rain, a moved camera) switches the
 *    cascade off, and labelling starts over on the new scene, then retraining.
 * 4. **Without the reference**: when the reference cannot take an uncertain frame in time (see
 *    `frame-router.ts`), the model decides it alone at the middle of its uncertain band, if that
 *    still meets the targets. The held-out check bounds it: `withoutReference` are the
 *    Clopper-Pearson bounds on the miss and false-alarm rates if every uncertain held-out frame
 *    had been decided so, the wider bound that holds for frames decided without the reference.
 *    When they are beyond the targets (`decidesAlone: false`), such a frame is skipped instead.
 * 5. **Warm restart**: with a {@link StreamStore} (the catalog), labels are stored in chunks as they
 *    come and the certified model with its held-out check; a watch of the same stream, reference
 *    model and predicate starts with both (the model runs at once, checked by the verification
 *    sample like a fresh one). A scene change deletes them.
 */
import { SpecializedModel } from '../inference/specialized-model.js';
import { calibratePresence, decide, type PresenceThresholds } from '../optimizer/calibration.js';
import { binomialCdf, clopperPearsonUpper } from '../optimizer/certification.js';
import { trainModel } from '../training/trainer.js';
import { LabelBuffer, STREAM_MODEL_SIZE, TRAIN_SHARE, type StreamStore, type TrainingEvent } from './stream-labels.js';


export interface CascadeTargets {
  readonly fnr: number;
  readonly fpr: number;
  readonly confidence: number;
}

export type CascadeEvent =
  | TrainingEvent
  | {
      readonly type: 'cascade';
      /**
       * Whether this model is on: the held-out bounds met the targets and it saves the reference
       * work (`referenceShare`); otherwise labelling goes on (and a running cascade stays).
       */
      readonly certified: boolean;
      readonly heldOut: {
        readonly positives: number;
        readonly negatives: number;
        /** Held-out frames the model decided negative and positive, and its errors among them. */
        readonly decidedNegative: number;
        readonly decidedPositive: number;
        readonly falseNegatives: number;
        readonly falsePositives: number;
        readonly fnrBound: number;
        readonly fprBound: number;
        readonly uncertain: number;
      };
      /** Bounds (same confidence) if every uncertain frame is decided by the model alone. */
      readonly withoutReference: { readonly fnrBound: number; readonly fprBound: number };
      /** Whether those are within the targets: uncertain frames the reference cannot take in time are then decided alone, else skipped. */
      readonly decidesAlone: boolean;
      /**
       * The share of frames the reference would still take with the cascade on (`expected`:
       * uncertain ones plus the verification sample) and the share it sustains (`sustained`). The
       * cascade switches on only if `expected` is below 1 (and below the running cascade's, when
       * one runs); while `expected` is not below `sustained` the reference stays saturated, so
       * labelling goes on and a better model is trained.
       */
      readonly referenceShare: { readonly expected: number; readonly sustained: number };
      readonly thresholds: { readonly cLow: number; readonly cHigh: number };
      /** Error rates a verification window may show per stratum of decisions before it counts as drift. */
      readonly allowed: { readonly negative: number; readonly positive: number };
      readonly trainSeconds: number;
      /** The model was stored by an earlier watch of this stream and query, and runs again (warm restart). */
      readonly resumed?: boolean;
    }
  | {
      readonly type: 'verification';
      /** Stream seconds the window covers (it ends early, at the frame that showed drift, when errors are far beyond the allowed rate). */
      readonly start: number;
      readonly end: number;
      readonly decidedNegative: { readonly sampled: number; readonly errors: number; readonly upperBound: number };
      readonly decidedPositive: { readonly sampled: number; readonly errors: number; readonly upperBound: number };
      /** The test rejected the held-out error rates: the cascade is off and labelling starts over. */
      readonly drift: boolean;
    };

/** Held-out frames per class for a bound at `target` to pass when no decision errs: the smallest n with 1 - (alpha/2)^(1/n) <= target. */
export function heldOutNeeded(target: number, confidence: number): number {
  return Math.ceil(Math.log((1 - confidence) / 2) / Math.log(1 - target));
}

/** The model's decision when the reference cannot help: the sure ones as they are, the uncertain ones split at the middle of the band. */
function decideAlone(score: number, t: PresenceThresholds): 0 | 1 {
  const d = decide(score, t);
  return d !== -1 ? d : score >= (t.cLow + t.cHigh) / 2 ? 1 : 0;
}

type CascadeCertified = Extract<CascadeEvent, { type: 'cascade' }>;

interface Running {
  readonly model: SpecializedModel;
  readonly thresholds: PresenceThresholds;
  /** Per-stratum error rates the held-out check allowed (its upper bounds). */
  readonly allowed: { readonly negative: number; readonly positive: number };
  readonly withoutReference: { readonly fnrBound: number; readonly fprBound: number };
  readonly decidesAlone: boolean;
  /** The share of frames it leaves the reference (held-out uncertain share plus verification). */
  readonly expectedShare: number;
}

/** What the reference can take, measured by the watch: the share of frames it sustains, and the verification share. */
export interface ReferenceLoad {
  readonly sustainedShare: () => number;
  readonly verifyRate: () => number;
}

/**
 * The share of frames the reference would still take with a cascade whose held-out uncertain
 * share is `uncertain` (those, plus the verification sample of the rest), and the share it sustains.
 */
export function referenceShareWith(uncertain: number, load: ReferenceLoad | undefined): { readonly expected: number; readonly sustained: number } {
  const verify = load?.verifyRate() ?? 0;
  return { expected: uncertain + (1 - uncertain) * verify, sustained: load?.sustainedShare() ?? 1 };
}

export class StreamCascade {
  private readonly labels: LabelBuffer;
  private running: Running | undefined;
  private training: Promise<void> | undefined;
  /** Positives and negatives a try needs at least (for the held-out check to be able to pass). */
  private readonly need: number;
  /** Labels added (since the start or the last scene change), and the count the next try waits for: half as many again as the last failed one had. */
  private added = 0;
  private nextTry = 0;
  /** Scene changes so far: a training begun before one does not install its model after it. */
  private generation = 0;
  private attempts = 0;
  private window: { start: number; neg: { sampled: number; errors: number }; pos: { sampled: number; errors: number } } | undefined;
  private readonly pending: CascadeEvent[] = [];

  constructor(
    private readonly targets: CascadeTargets,
    private readonly windowSeconds: number,
    private readonly threads?: number,
    private readonly store?: StreamStore,
    private readonly load?: ReferenceLoad,
  ) {
    this.labels = new LabelBuffer(store);
    this.need = Math.ceil(Math.max(heldOutNeeded(targets.fnr, targets.confidence), heldOutNeeded(targets.fpr, targets.confidence)) / (1 - TRAIN_SHARE));
  }

  /** Whether the model decides frames now. */
  get active(): boolean {
    return this.running !== undefined;
  }

  /** The running model's bounds for frames it decides alone (undefined when it is not running or does not decide alone). */
  get withoutReference(): { readonly fnrBound: number; readonly fprBound: number } | undefined {
    return this.running?.decidesAlone ? this.running.withoutReference : undefined;
  }

  /** Events since the last call (training started or ended, verification windows, drift). */
  drain(): CascadeEvent[] {
    return this.pending.splice(0);
  }

  /**
   * A frame the reference decided: kept as a label, and training starts once there are enough.
   * While a cascade runs, labels are kept only if it leaves the reference saturated (its expected
   * share is not below what the reference sustains): a better model is then trained on them.
   */
  addLabel(thumb: Uint8Array, frame: number, match: boolean): void {
    if (this.running && this.running.expectedShare < (this.load?.sustainedShare() ?? 1)) return;
    this.labels.add(thumb, frame, match ? 1 : 0);
    this.added++;
    const { positives, negatives } = this.labels;
    if (!this.training && positives >= this.need && negatives >= this.need && this.added >= this.nextTry) this.training = this.train(positives, negatives).finally(() => (this.training = undefined));
  }

  /**
   * The model's decision on a frame: 1 or 0, or -1 when it is unsure (or not running), with what
   * it would decide alone (`alone`, at the middle of the uncertain band; -1 when not running, or
   * when deciding alone would not meet the targets).
   */
  async decide(thumb: Uint8Array, frame: number): Promise<{ decision: -1 | 0 | 1; alone: -1 | 0 | 1 }> {
    if (!this.running) return { decision: -1, alone: -1 };
    const batch = { width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE, count: 1, frames: Int32Array.of(frame), timestamps: new Float64Array(1), data: thumb };
    const [score] = await this.running.model.score(batch);
    return { decision: decide(score!, this.running.thresholds), alone: this.running.decidesAlone ? decideAlone(score!, this.running.thresholds) : -1 };
  }

  /** A model decision the reference checked; closes verification windows and detects drift. */
  verified(time: number, decision: 0 | 1, truth: boolean): void {
    if (!this.running) return;
    const index = Math.floor(time / this.windowSeconds);
    if (this.window && Math.floor(this.window.start / this.windowSeconds) !== index) this.closeWindow();
    this.window ??= { start: index * this.windowSeconds, neg: { sampled: 0, errors: 0 }, pos: { sampled: 0, errors: 0 } };
    const s = decision === 0 ? this.window.neg : this.window.pos;
    s.sampled++;
    if ((decision === 1) !== truth) s.errors++;
    // Errors far beyond the allowed rate end the window at once (at a tenth of the risk, for the
    // repeated looks): a cascade gone wrong should not decide the rest of the window.
    const allowed = decision === 0 ? this.running.allowed.negative : this.running.allowed.positive;
    if (this.rejects(s, allowed, 10)) this.closeWindow(time);
  }

  /** Whether `errors` in `sampled` are significantly more than `allowed` (one-sided binomial, at `1 / looks` of half the risk). */
  private rejects(s: { sampled: number; errors: number }, allowed: number, looks = 1): boolean {
    const alpha = 1 - this.targets.confidence;
    return s.errors > 0 && 1 - binomialCdf(s.errors - 1, s.sampled, allowed) < alpha / 2 / looks;
  }

  /**
   * Resumes from the store: its labels, and its model, which runs at once (a `cascade` event with
   * `resumed`). Call before the first frame.
   */
  async resume(): Promise<void> {
    const isCertified = (state: unknown): state is CascadeCertified => (state as CascadeCertified | undefined)?.certified === true;
    const stored = await this.labels.resume(isCertified, this.threads);
    if (!stored) return;
    const { state: event, model } = stored;
    const thresholds = { ...event.thresholds, fnr: 0, fpr: 0, uncertain: event.heldOut.uncertain, positives: event.heldOut.positives, negatives: event.heldOut.negatives };
    const expectedShare = event.referenceShare?.expected ?? event.heldOut.uncertain;
    this.running = { model, thresholds, allowed: event.allowed, withoutReference: event.withoutReference, decidesAlone: this.meetsTargets(event.withoutReference), expectedShare };
    this.pending.push({ ...event, trainSeconds: 0, resumed: true });
  }

  /** Stops training (at its next step), stores the labels not stored yet and releases the model. */
  async dispose(): Promise<void> {
    await this.training?.catch(() => undefined);
    await this.labels.close();
    await this.running?.model.dispose();
    this.running = undefined;
  }

  /** Ends the verification window (at `at` stream seconds when drift ends it early) and tests it. */
  private closeWindow(at?: number): void {
    const w = this.window!;
    this.window = undefined;
    const alpha = 1 - this.targets.confidence;
    const bound = (s: { sampled: number; errors: number }) => (s.sampled ? clopperPearsonUpper(s.errors, s.sampled, alpha / 2) : 1);
    // P(X >= errors) under the allowed rate; a small one means the rate is now higher.
    const drift = this.rejects(w.neg, this.running!.allowed.negative) || this.rejects(w.pos, this.running!.allowed.positive);
    this.pending.push({
      type: 'verification',
      start: w.start,
      end: at ?? w.start + this.windowSeconds,
      decidedNegative: { ...w.neg, upperBound: bound(w.neg) },
      decidedPositive: { ...w.pos, upperBound: bound(w.pos) },
      drift,
    });
    if (drift) {
      const model = this.running!.model;
      this.running = undefined;
      void model.dispose();
      // The old scene's labels no longer describe the stream.
      this.labels.clear();
      this.added = this.nextTry = 0;
      this.generation++;
    }
  }

  private async train(positives: number, negatives: number): Promise<void> {
    this.attempts++;
    this.pending.push({ type: 'training', labelled: this.labels.length, positives, negatives, attempt: this.attempts });
    const started = performance.now();
    // A scene change while it trains makes this model stale: it is not installed then.
    const generation = this.generation;
    // A snapshot: labelling goes on while the model trains.
    const { train, held } = this.labels.snapshot();
    const trained = await trainModel(
      { ...train, width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE },
      { task: { kind: 'presence' }, maxEpochs: 20, split: { test: 0 }, offThread: true, ...(this.threads ? { threads: this.threads } : {}) },
    );
    const model = await SpecializedModel.load(trained.onnx, this.threads ? { threads: this.threads } : {});
    const scores = await model.score({ width: STREAM_MODEL_SIZE, height: STREAM_MODEL_SIZE, count: held.labels.length, frames: held.frames, timestamps: new Float64Array(held.labels.length), data: held.images });
    const truth = Array.from(held.labels);
    const thresholds = calibratePresence(scores, truth, this.targets);
    const alpha = 1 - this.targets.confidence;
    let fn = 0;
    let fp = 0;
    let decidedNeg = 0;
    let decidedPos = 0;
    let fnAlone = 0;
    let fpAlone = 0;
    for (let i = 0; i < truth.length; i++) {
      const d = decide(scores[i]!, thresholds);
      if (d === 0) decidedNeg++;
      if (d === 1) decidedPos++;
      if (d === 0 && truth[i]! > 0) fn++;
      if (d === 1 && truth[i] === 0) fp++;
      const a = decideAlone(scores[i]!, thresholds);
      if (a === 0 && truth[i]! > 0) fnAlone++;
      if (a === 1 && truth[i] === 0) fpAlone++;
    }
    const pos = truth.filter((t) => t > 0).length;
    const neg = truth.length - pos;
    const fnrBound = clopperPearsonUpper(fn, pos, alpha / 2);
    const fprBound = clopperPearsonUpper(fp, neg, alpha / 2);
    const withoutReference = { fnrBound: clopperPearsonUpper(fnAlone, pos, alpha / 2), fprBound: clopperPearsonUpper(fpAlone, neg, alpha / 2) };
    const decidesAlone = this.meetsTargets(withoutReference);
    const referenceShare = referenceShareWith(thresholds.uncertain, this.load);
    // It must save the reference work, and more than the cascade running now (if one runs, saturated, while this one trained).
    const certified = pos > 0 && neg > 0 && this.meetsTargets({ fnrBound, fprBound }) && referenceShare.expected < (this.running?.expectedShare ?? 1) && generation === this.generation;
    // The error rate each stratum of decisions may have: the held-out upper bound within it.
    const allowed = { negative: clopperPearsonUpper(fn, Math.max(1, decidedNeg), alpha / 2), positive: clopperPearsonUpper(fp, Math.max(1, decidedPos), alpha / 2) };
    const event: CascadeEvent = {
      type: 'cascade',
      certified,
      heldOut: { positives: pos, negatives: neg, decidedNegative: decidedNeg, decidedPositive: decidedPos, falseNegatives: fn, falsePositives: fp, fnrBound, fprBound, uncertain: thresholds.uncertain },
      withoutReference,
      decidesAlone,
      referenceShare,
      thresholds: { cLow: thresholds.cLow, cHigh: thresholds.cHigh },
      allowed,
      trainSeconds: (performance.now() - started) / 1000,
    };
    this.pending.push(event);
    if (generation !== this.generation) {
      // Trained on the scene before a change: the new scene's labelling has its own schedule.
      await model.dispose();
      return;
    }
    this.nextTry = this.added + Math.ceil(this.labels.length / 2);
    if (!certified) {
      await model.dispose();
      return;
    }
    const replaced = this.running?.model;
    this.running = { model, thresholds, allowed, withoutReference, decidesAlone, expectedShare: referenceShare.expected };
    // The verification window restarts with the new model's allowed rates.
    this.window = undefined;
    if (replaced) void replaced.dispose();
    this.labels.putModel(trained.onnx, event);
  }

  private meetsTargets(bounds: { readonly fnrBound: number; readonly fprBound: number }): boolean {
    return bounds.fnrBound <= this.targets.fnr && bounds.fprBound <= this.targets.fpr;
  }

  /** Errors of the store's writes so far (a watch reports, never stops, for them); cleared when read. */
  takeStoreError(): unknown {
    return this.labels.takeStoreError();
  }
}
