/** Physical plans the cascade rules build: the cascade from its statistics, and the measuring steps before it. */
import { countTarget } from '../../binder/index.js';
import { PhysicalNode, type AnswerNode, type CalibrateNode, type LabelSampleNode, type ReferenceScanNode, type StratifiedEstimateNode } from '../../plan/physical-node.js';
import { frameList } from '../../video/frame-range.js';
import { ARCHITECTURES, cascadeScans, type CascadeStatistics, type CascadeTask } from '../cascade-statistics.js';
import type { CascadeChoice, Considered } from '../cascade-search.js';
import { trainingSeconds, type CostModel } from '../cost-model.js';
import { certificationTargets, estimatedCertificationLabels } from '../certification.js';
import type { OptimizerInput } from '../optimizer-input.js';

const measured = (secondsPerFrame: number | undefined) => ({ secondsPerFrame, assumed: false });

/** Presence: Answer <- Certify <- ReferenceScan(uncertain) <- Interpolate <- SpecializedScore <- DifferenceFilter <- FrameSkip <- Decode. */
export function presencePlan(input: OptimizerInput, st: CascadeStatistics, considered: readonly Considered[]): AnswerNode {
  const { range } = input;
  const N = range.end - range.start;
  const c = st.costs;
  const scans = cascadeScans(st);
  const interpolate = PhysicalNode.Interpolate({ sampleStep: st.sampleStep, thresholds: st.thresholds!, net: st.interpolation?.net ?? true, decide: st.decide, bisect: st.interpolation?.bisect ?? false, input: scans ? presenceScore(input, st) : undefined });
  const scan: ReferenceScanNode = PhysicalNode.ReferenceScan({ role: 'uncertain', model: input.referenceModel, video: input.video.name, path: input.video.path, range, labelled: input.labelled, cost: measured(c.reference), input: interpolate });
  const h = st.heldOut;
  const uncertain = Number(h.uncertain ?? 0);
  const baseRate = Number(h.baseRate ?? Number(h.positives ?? 1) / Math.max(1, Number(h.positives ?? 1) + Number(h.negatives ?? 1)));
  const targets = certificationTargets(input.query);
  const labels = estimatedCertificationLabels(Math.max(0, N - input.labelled) * (1 - uncertain), baseRate, targets, { fnr: Number(h.fnr ?? 0), fpr: Number(h.fpr ?? 0) });
  const a = input.query.accuracy;
  const certify = PhysicalNode.Certify({ model: input.referenceModel, ...targets, budget: a.budget, drawnBefore: st.verificationFrames ?? [], estimatedLabels: labels, cost: measured(c.reference), input: scan });
  const seconds = (scans ? N * ((c.decode ?? 0) + (c.specialized ?? 0) / st.skip) : 0) + (uncertain * N + labels) * (c.reference ?? 0);
  return PhysicalNode.Answer({ query: input.query, logical: input.logical, range, video: input.video.name, seconds, considered, input: certify });
}

/** SpecializedScore <- DifferenceFilter <- FrameSkip <- Decode: the presence model's scan. */
function presenceScore(input: OptimizerInput, st: CascadeStatistics) {
  const c = st.costs;
  const decode = PhysicalNode.Decode({ path: input.video.path, size: st.architecture.inputSize, step: st.skip, reducible: st.skip > 1, cost: measured(c.decode) });
  const skip = PhysicalNode.FrameSkip({ skip: st.skip, input: decode });
  const difference = PhysicalNode.DifferenceFilter({ choice: st.difference, input: skip });
  return PhysicalNode.SpecializedScore({ task: 'presence', architecture: st.architecture, cost: measured(c.specialized), heldOut: st.heldOut, input: difference });
}

/**
 * Count: Answer <- StratifiedEstimate <- SpecializedScore <- Decode, or the estimate alone when no
 * model pays. `labels`: the random labels the optimizer expects the estimate to draw (cold; a
 * stored cascade reads the frames it drew before from the store).
 */
export function countPlan(input: OptimizerInput, st: CascadeStatistics, considered: readonly Considered[], labels = 0): AnswerNode {
  const { range, query } = input;
  const N = range.end - range.start;
  const c = st.costs;
  const useModel = cascadeScans(st);
  const model = useModel
    ? PhysicalNode.SpecializedScore({
        task: 'count',
        architecture: st.architecture,
        cost: measured(c.specialized),
        heldOut: st.heldOut,
        input: PhysicalNode.Decode({ path: input.video.path, size: st.architecture.inputSize, step: 1, reducible: false, cost: measured(c.decode) }),
      })
    : undefined;
  const { within, confidence } = countTarget(query, N);
  const h = st.heldOut;
  const estimate: StratifiedEstimateNode = PhysicalNode.StratifiedEstimate({
    model: input.referenceModel,
    within,
    confidence,
    pilotVariance: Number((useModel ? h.blockResidualVariance : h.blockTruthVariance) ?? 1),
    drawnBefore: st.estimationFrames,
    withoutModel: useModel ? undefined : h.specializedModel === 0 ? 'not-trained' : 'no-gain',
    heldOut: h,
    cost: measured(c.reference),
    input: model,
  });
  const seconds = (useModel ? N * ((c.decode ?? 0) + (c.specialized ?? 0)) : 0) + labels * (c.reference ?? 0);
  return PhysicalNode.Answer({ query, logical: input.logical, range, video: input.video.name, seconds, considered, input: estimate });
}

/** The sample a cold cascade labels: every `step`-th frame of the range. */
export function sampleOf(input: OptimizerInput, step: number): Int32Array {
  return frameList(input.range.start, input.range.end, step);
}

/**
 * The measuring steps still ahead of a cold cascade, as a plan: Calibrate <- TrainCandidates <-
 * LabelSample (the sample, or a count's pilot third first). The engine runs the deepest one,
 * then asks the optimizer again.
 */
export function calibratePlan(input: OptimizerInput, task: CascadeTask, step: number, label: { frames: Int32Array; pilot: boolean } | undefined, considered: readonly Considered[]): AnswerNode {
  const { costs, range } = input;
  const N = range.end - range.start;
  const sampleFrames = sampleOf(input, step).length;
  const assumed = (cost: string) => costs.assumed.some((a) => a.cost.startsWith(cost));
  const sample: LabelSampleNode | undefined = label
    ? PhysicalNode.LabelSample({
        model: input.referenceModel,
        sampleStep: step,
        step: label.pilot ? step * 3 : step,
        frames: label.frames.length,
        missing: Math.max(0, label.frames.length - Math.min(input.labelled, label.frames.length)),
        pilot: label.pilot,
        cost: { secondsPerFrame: costs.reference, assumed: assumed('reference') },
      })
    : undefined;
  const train = PhysicalNode.TrainCandidates({ architectures: ARCHITECTURES, sampleFrames, seconds: trainingSeconds(costs, sampleFrames), assumed: assumed('train'), input: sample });
  const calibrate: CalibrateNode = PhysicalNode.Calibrate({ task, frames: N, input: train });
  return PhysicalNode.Answer({ query: input.query, logical: input.logical, range, video: input.video.name, seconds: undefined, considered, input: calibrate });
}

/** The statistics stored with the candidate the search chose. */
export function chosenStatistics(task: CascadeTask, step: number, trainingFrames: readonly number[], choice: CascadeChoice, costs: CostModel, trainSeconds: number): CascadeStatistics {
  const { candidate, option } = choice;
  return {
    task,
    architecture: candidate.architecture,
    sampleStep: step,
    trainingFrames,
    estimationFrames: [],
    costs: { reference: costs.reference, specialized: candidate.cnnCost, decode: costs.decode },
    trainSeconds,
    skip: candidate.skip,
    difference: candidate.difference,
    thresholds: option.thresholds,
    interpolation: option.interpolation,
    ...(option.decide ? { decide: option.decide } : {}),
    heldOut: option.heldOut,
  };
}

/** Share of the labelled sample frames where the class is present. */
export function baseRateOf(truth: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const v of truth.values()) if (v > 0) n++;
  return truth.size === 0 ? 0.5 : n / truth.size;
}
