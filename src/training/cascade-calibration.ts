/**
 * The measuring step of a cold cascade: trains each candidate architecture on the labelled sample,
 * scores every sample frame with it, measures its frame skip and difference detectors, and
 * calibrates its options (presence: one per safety-net margin) on held-out frames. What it
 * returns is what the optimizer's search chooses from.
 */
import type { BoundQuery } from '../binder/index.js';
import { SpecializedModel } from '../inference/specialized-model.js';
import { bandShares, calibrateInterpolation, decideCandidates, calibratePresence, netCandidates, NO_NET, skipErrorRate, type InterpolationCalibration, type ModelDecision, type PresenceThresholds } from '../optimizer/calibration.js';
import { DIFFERENCE_GRID, CASCADE_SEED, type CandidateArchitecture, type CascadeTask } from '../optimizer/cascade-statistics.js';
import { neighbourVariance } from '../optimizer/count-estimator.js';
import { chooseDifferenceDetector, type DifferenceChoice } from '../optimizer/difference-choice.js';
import { timeSplit, trainModel, type TrainedModel } from './trainer.js';

/** The labelled sample candidates train and calibrate on. */
export interface SampleSet {
  readonly step: number;
  readonly frames: Int32Array;
  /** The reference's value of each sample frame: presence 1/0, count the number of matching objects. */
  readonly truth: Float32Array;
  /** Each candidate size's thumbnails of the sample frames, in frame order. */
  readonly thumbnails: ReadonlyMap<number, Uint8Array>;
}

/** One calibrated option of a candidate: presence, one per safety-net margin; count, one. */
export interface CandidateOption {
  readonly thresholds?: PresenceThresholds;
  /** Presence: interpolation between agreeing labelled frames; `net` the model checks it; `bisect` gaps with a change are bisected by the reference instead of labelled whole. */
  readonly interpolation?: InterpolationCalibration & { readonly net: boolean; readonly bisect?: boolean };
  /** Presence: the model decides what interpolation leaves, by these thresholds. */
  readonly decide?: ModelDecision;
  /** Share of the frames outside the sample the reference is expected to see. */
  readonly uncertain: number;
  readonly heldOut: Readonly<Record<string, number>>;
}

/** A trained candidate model with its cheap stages and calibrated options. */
export interface Candidate {
  readonly architecture: CandidateArchitecture;
  readonly trained: TrainedModel;
  /** Measured seconds per frame of the model. */
  readonly cnnCost: number;
  readonly skip: number;
  readonly difference: DifferenceChoice | undefined;
  /** Training throughput measured on this machine. */
  readonly trainPerImageEpoch: number;
  readonly options: readonly CandidateOption[];
}

/** What a calibration run reads: the query and task, the range, and who trains on whose behalf. */
export interface CalibrationInput {
  readonly query: BoundQuery;
  readonly task: CascadeTask;
  /** Frames in range. */
  readonly frames: number;
  readonly sample: SampleSet;
  /** Indexes into the sample the model trains on (a count keeps the other half for its estimate). */
  readonly trainIdx: readonly number[];
  readonly estimationIdx: readonly number[];
  readonly provenance: { readonly video: string; readonly labelSource: string; readonly target: string };
  readonly signal?: AbortSignal;
  readonly onProgress?: (architecture: CandidateArchitecture, epoch: number, maxEpochs: number) => void;
}

/** Net margins the model's own decisions are paired with. */
const DECIDE_NETS: readonly number[] = [0.25, 0.1];

/** Epoch cap and early-stopping patience of a specialized model. */
export const MAX_EPOCHS = 30;
const PATIENCE = 6;

/** Trains one candidate, then measures its frame skip and difference detector and calibrates its options. */
export async function calibrateCandidate(input: CalibrationInput, architecture: CandidateArchitecture): Promise<Candidate> {
  const { task, query, sample } = input;
  const { frames, truth, step } = sample;
  const { images, trained, scores, cnnCost } = await trainArchitecture(input, architecture);
  // Held-out: presence, the later time blocks the trainer never saw; count, the interleaved half.
  const heldIdx = task === 'presence' ? Array.from(timeSplit(Int32Array.from(frames), { test: 0.25 }).test) : input.estimationIdx;
  const held = { scores: heldIdx.map((i) => scores[i]!), truth: heldIdx.map((i) => truth[i]!) };
  let changes = 0;
  for (let i = 1; i < frames.length; i++) if (truth[i] !== truth[i - 1]) changes++;
  // Frame skip and the difference detector may each add a quarter of the tighter target.
  const budget = task === 'presence' ? Math.min(query.accuracy.fnr, query.accuracy.fpr) : 0;
  const span = (frames.length - 1) * step;
  const skip = [5, 3, 2, 1].find((k) => skipErrorRate(changes, span, k) <= budget / 4) ?? 1;
  const skipError = skipErrorRate(changes, span, skip);
  // (Counts score every frame, so only presence uses a difference detector.)
  const difference =
    task === 'count'
      ? undefined
      : chooseDifferenceDetector({ images, size: architecture.inputSize, truth: Float32Array.from(truth, (y) => (y > 0 ? 1 : 0)), modelSeconds: cnnCost, grid: DIFFERENCE_GRID, errorBudget: budget / 4 });
  const cheapStagesError = skipError + (difference?.enabled ? difference.errorRate : 0);
  const heldOut = { frames: heldIdx.length };
  const options = task === 'presence' ? presenceOptions(input, scores, held, heldOut, changes, cheapStagesError) : [countOption(held, heldOut)];
  return { architecture, trained, cnnCost, skip, difference, trainPerImageEpoch: 1 / Math.max(1, trained.timing.imagesPerSecond), options };
}

/** Trains one candidate architecture on the sample and scores every sample frame with it. */
async function trainArchitecture(input: CalibrationInput, arch: CandidateArchitecture) {
  const { task, sample, trainIdx } = input;
  const { frames, truth, step } = sample;
  const images = sample.thumbnails.get(arch.inputSize)!;
  const size = arch.inputSize * arch.inputSize * 3;
  const sub = new Uint8Array(trainIdx.length * size);
  trainIdx.forEach((i, k) => sub.set(images.subarray(i * size, (i + 1) * size), k * size));
  const maxCount = Math.max(1, Math.min(20, Math.max(...truth)));
  const trained = await trainModel(
    { images: sub, width: arch.inputSize, height: arch.inputSize, labels: Float32Array.from(trainIdx, (i) => truth[i]!), frames: Int32Array.from(trainIdx, (i) => frames[i]!) },
    {
      task: task === 'presence' ? { kind: 'presence' } : { kind: 'count', maxCount },
      architecture: arch,
      seed: CASCADE_SEED,
      maxEpochs: MAX_EPOCHS,
      patience: PATIENCE,
      split: { test: task === 'presence' ? 0.25 : 0.15 },
      provenance: { ...input.provenance, frameStep: step },
      onProgress: input.onProgress ? (p) => input.onProgress!(arch, p.epoch, p.maxEpochs) : undefined,
      ...(input.signal ? { signal: input.signal } : {}),
    },
  );
  const specialized = await SpecializedModel.load(trained.onnx);
  const scoreStarted = performance.now();
  const scores = await specialized.score({ width: arch.inputSize, height: arch.inputSize, count: frames.length, frames, timestamps: new Float64Array(frames.length), data: images });
  const cnnCost = (performance.now() - scoreStarted) / 1000 / Math.max(1, frames.length);
  await specialized.dispose();
  return { images, trained, scores, cnnCost };
}

type HeldOut = { readonly scores: readonly number[]; readonly truth: readonly number[] };

/**
 * Presence: one option per safety-net margin and one with no net (certification bounds the
 * answer whatever interpolation gets wrong; the sample's leave-one-out errors price it), and the
 * no-net and middle-net options again with the model deciding what interpolation leaves
 * (NoScope's c_low / c_high, calibrated on the held-out frames).
 */
function presenceOptions(input: CalibrationInput, scores: Float32Array, held: HeldOut, heldOut: Record<string, number>, changes: number, cheapStagesError: number): CandidateOption[] {
  const { query, frames: N, sample } = input;
  const { truth, step, frames } = sample;
  const model = calibratePresence(held.scores, held.truth, { fnr: query.accuracy.fnr, fpr: query.accuracy.fpr });
  // Frames in gaps whose two labelled ends disagree go to the reference, and so do flagged ones.
  const disagreeing = (changes * (step - 1)) / Math.max(1, N - frames.length);
  const interpolated = [...interpolationOptions(input, scores, held, heldOut, model, disagreeing, cheapStagesError), bareInterpolation(truth, heldOut, model, disagreeing, cheapStagesError)];
  // The model decides behind no net and the middle nets (a wide net leaves it little; the narrowest adds nothing).
  const paired = interpolated.filter((o) => !o.interpolation!.net || DECIDE_NETS.includes(Number(o.heldOut.netMargin)));
  const deciding = decideCandidates(held, query.accuracy).flatMap((d) =>
    paired.map((o) => {
      const decide = { cLow: d.cLow, cHigh: d.cHigh };
      const band = bandShares(truth, scores, o.thresholds!, decide);
      const uncertain = Math.min(1, disagreeing * band.nearChanges + o.interpolation!.flagged * band.flagged);
      const h = o.heldOut;
      return { ...o, decide, uncertain, heldOut: { ...h, fnr: h.fnr! + d.fnr, fpr: h.fpr! + d.fpr, uncertain, modelDecides: 1, decideFnrShare: d.fnrShare, decideFprShare: d.fprShare } };
    }),
  );
  return [...interpolated, ...deciding];
}

/** Interpolation with no net: only the disagreeing gaps go to the reference; its leave-one-out errors (at twice the spacing) are what certification is expected to find. */
function bareInterpolation(truth: Float32Array, heldOut: Record<string, number>, model: PresenceThresholds, disagreeing: number, cheapStagesError: number): CandidateOption {
  const never = NO_NET;
  const interp = calibrateInterpolation(truth, new Float32Array(truth.length), never);
  const uncertain = Math.min(1, disagreeing);
  return {
    thresholds: { ...model, ...never },
    interpolation: { ...interp, net: false },
    uncertain,
    heldOut: { ...heldOut, fnr: interp.fnr + cheapStagesError, fpr: interp.fpr + cheapStagesError, skipAndDifferenceError: cheapStagesError, netMargin: 0, interpolationErrors: interp.errors, uncertain, positives: model.positives, negatives: model.negatives, interpolationFrames: interp.agreeing },
  };
}

/** One option per safety-net margin: interpolation, its net's flags and disagreeing gaps to the reference. */
function interpolationOptions(input: CalibrationInput, scores: Float32Array, held: HeldOut, heldOut: Record<string, number>, model: PresenceThresholds, disagreeing: number, cheapStagesError: number): CandidateOption[] {
  const { query, sample } = input;
  const { truth } = sample;
  return netCandidates(truth, scores, held, query.accuracy).map((net) => {
    const thresholds = { ...model, cLow: net.cLow, cHigh: net.cHigh };
    const interp = calibrateInterpolation(truth, scores, thresholds);
    const uncertain = Math.min(1, disagreeing + net.flagged);
    return {
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
    };
  });
}

/** Count: the one option, with the held-out errors and the pilot variances for the stratified estimate. */
function countOption(held: HeldOut, heldOut: Record<string, number>): CandidateOption {
  const n = Math.max(1, held.truth.length);
  const mean = held.truth.reduce((a, b) => a + b, 0) / n;
  let abs = 0;
  let base = 0;
  held.truth.forEach((y, k) => {
    abs += Math.abs(held.scores[k]! - y);
    base += Math.abs(mean - y);
  });
  // Pilot for the stratified estimate: how much the value (or the model's residual) varies
  // between neighbouring held-out frames, i.e. inside a short time block.
  const truthVariance = neighbourVariance(held.truth);
  const residualVariance = neighbourVariance(held.truth.map((y, k) => y - held.scores[k]!));
  return {
    uncertain: 0,
    heldOut: {
      ...heldOut,
      meanAbsoluteError: abs / n,
      meanBaselineError: base / n,
      blockTruthVariance: truthVariance,
      blockResidualVariance: residualVariance,
      controlVariate: residualVariance < truthVariance ? 1 : 0,
    },
  };
}
