/**
 * The optimizer's search over cascades (EvaDB's OptimizeInputs: cost each alternative, keep the
 * cheapest), with the cost model's measured costs: whether a sample is worth labelling at all,
 * whether a count needs a model, and which trained candidate and option to run. Every alternative
 * it weighs and every reason it declines is a typed {@link Considered} entry.
 */
import { probit } from 'simple-statistics';
import { countTarget, type BoundQuery } from '../binder/index.js';
import type { Candidate, CandidateOption } from '../training/cascade-calibration.js';
import { NET_MARGINS, STAGE_BUDGET_SHARE } from './calibration.js';
import { certificationTargets, estimatedCertificationLabels } from './certification.js';
import type { CascadeTask } from './cascade-statistics.js';
import { neighbourVariance } from './count-estimator.js';
import { scanSeconds, trainingSeconds, type CostModel } from './cost-model.js';

/** Relative cost difference below which two plans are a tie (measured timings vary more than this between identical runs). */
export const COST_TIE = 0.1;

/** Why the optimizer declined a cascade (the engine then runs the exact plan); `message` says it in words. */
export type FallbackReason =
  | { readonly kind: 'labelling-cheaper'; readonly naiveCost: number; readonly cascadeCost: number; readonly message: string }
  | { readonly kind: 'no-cascade-meets-targets'; readonly considered: readonly string[]; readonly message: string }
  | { readonly kind: 'best-costs-more'; readonly bestCost: number; readonly rest: number; readonly message: string }
  | { readonly kind: 'certification-costs-more'; readonly certificationLabels: number; readonly rest: number; readonly message: string };

/** One alternative the search costed: what it was, its estimated cost and accuracy, and whether it met the targets. */
export interface Alternative {
  readonly kind: 'alternative';
  readonly description: string;
  readonly seconds: number;
  readonly estimated: Readonly<Record<string, number>>;
  readonly meets: boolean;
  readonly chosen: boolean;
}

export type Considered = Alternative | { readonly kind: 'fallback'; readonly reason: FallbackReason } | { readonly kind: 'assumed'; readonly cost: string; readonly why: string };

/** The frames a cold cascade samples: a sixth of the range, 150 to 500 frames, evenly spaced. */
export function sampleStep(frames: number): number {
  const target = Math.min(frames, Math.max(150, Math.min(500, Math.round(frames / 6))));
  return Math.max(1, Math.floor(frames / target));
}

/**
 * Is a cascade worth training here? Labelling every unlabelled frame against labelling the sample,
 * training and scanning, with the uncertain share the last cascade on this video measured.
 */
export function sampleWorthLabelling(p: { frames: number; labelled: number; sampleFrames: number; costs: CostModel }): FallbackReason | undefined {
  const { frames: N, labelled, sampleFrames, costs } = p;
  const sampleMissing = Math.max(0, sampleFrames - Math.min(labelled, sampleFrames));
  const naiveCost = (N - labelled) * costs.reference;
  const cascadeCost = sampleMissing * costs.reference + trainingSeconds(costs, sampleFrames) + scanSeconds(costs, N) + costs.uncertainShare * (N - sampleFrames) * costs.reference;
  if (cascadeCost < naiveCost) return undefined;
  const message = `labelling the ${N - labelled} unlabelled frames (${fmt(naiveCost)} s estimated) is cheaper than sampling, training and a cascade (${fmt(cascadeCost)} s)`;
  return { kind: 'labelling-cheaper', naiveCost, cascadeCost, message };
}

/**
 * Before the sample: could a certified cascade save labels here at any base rate? Certifying an
 * answer that makes no error takes the fewest labels when the class is in about half the frames
 * (FNR and FPR then share the draws); when even that least costly certification would label all
 * but COST_TIE of the frames the sample leaves, no cascade can save more than timings vary, and
 * every frame is labelled in one sequential pass instead of a sample and then the rest. Short
 * ranges with strict targets land here (at 1% / 1% and 95%, any range of fewer than about 1,200
 * frames): the cost follows from the targets and the frames, not from anything measured.
 */
export function certificationCanPay(p: { query: BoundQuery; frames: number; labelled: number; sampleFrames: number; costs: CostModel }): FallbackReason | undefined {
  const targets = certificationTargets(p.query);
  const unlabelled = Math.max(0, p.frames - Math.max(p.labelled, p.sampleFrames));
  if (unlabelled === 0) return undefined;
  let labels = Infinity;
  let share = 0;
  for (let percent = 1; percent < 100; percent++) {
    const l = estimatedCertificationLabels(unlabelled, percent / 100, targets);
    if (l < labels) [labels, share] = [l, percent / 100];
  }
  if (labels < unlabelled * (1 - COST_TIE)) return undefined;
  const message = `certifying FNR ${targets.fnr} / FPR ${targets.fpr} at ${Math.round(targets.confidence * 100)}% would label at least ${Math.round(labels)} of the ${unlabelled} frames a ${p.sampleFrames}-frame sample leaves, whatever the class's share of frames (fewest at ${Math.round(share * 100)}%), so the reference detector labelled every frame in one pass without sampling`;
  return { kind: 'certification-costs-more', certificationLabels: labels, rest: unlabelled * p.costs.reference, message };
}

/**
 * After the sample, before training: could any cascade pay here? Its cheapest conceivable cost is
 * training, the scan and certifying an answer that sends no frame to the reference and makes no
 * error; when that already costs as much as labelling the rest (a class in nearly every frame or
 * in almost none leaves certification nothing to stand on, and short ranges with strict targets
 * need most of their frames labelled anyway), the exact plan runs without training.
 */
export function certificationWorthTraining(p: { query: BoundQuery; frames: number; unlabelled: number; sampleFrames: number; baseRate: number; costs: CostModel }): FallbackReason | undefined {
  const { costs, unlabelled } = p;
  const labels = estimatedCertificationLabels(unlabelled, p.baseRate, certificationTargets(p.query));
  const floor = trainingSeconds(costs, p.sampleFrames) + scanSeconds(costs, p.frames) + labels * costs.reference;
  const rest = unlabelled * costs.reference;
  if (floor < rest) return undefined;
  const message = `certifying even an error-free cascade would label about ${Math.round(labels)} of the ${unlabelled} frames left (the class is in ${(p.baseRate * 100).toFixed(1)}% of the sample), and with training and the scan that costs ${fmt(floor)} s against ${fmt(rest)} s for labelling them, so the reference detector labelled every frame without training`;
  return { kind: 'certification-costs-more', certificationLabels: labels, rest, message };
}

/** A count's choice between plain stratified sampling and training a model, from the pilot's labels. */
export interface PlainSampling {
  readonly cheaper: boolean;
  /** Random labels plain sampling would need. */
  readonly labels: number;
  /**
   * Seconds to label the rest of the sample, train, scan with a model, and sample with it as the
   * control variate (its variance cut by the cost model's `countVarianceRatio`).
   */
  readonly training: number;
  readonly variance: number;
}

/**
 * Random labels stratified sampling needs for a count's interval of half-width `within` (per frame)
 * at `confidence`, over `unlabelled` of `frames` frames, where the value varies by `variance`
 * between neighbouring frames (which bounds how much it varies inside a time block):
 * (z U sigma / (N within))^2, at most the frames there are.
 */
export function countSamplingLabels(variance: number, p: { frames: number; unlabelled: number; within: number; confidence: number }): number {
  const z = probit(1 - (1 - p.confidence) / 2);
  return Math.min(p.unlabelled, ((z * p.unlabelled * Math.sqrt(variance)) / (p.frames * p.within)) ** 2);
}

/** A trained count model's residual variance as a share of the count's own on the same held-out frames (1: no gain). */
export function countVarianceRatio(heldOut: Readonly<Record<string, number>>): number {
  const truth = Number(heldOut.blockTruthVariance ?? 0);
  return truth > 0 ? Math.min(1, Number(heldOut.blockResidualVariance ?? truth) / truth) : 1;
}

/**
 * Whether a count needs a specialized model at all: the random labels plain stratified sampling
 * would need, against labelling the rest of the sample, training, scanning with a model and the
 * labels sampling would still need with it as control variate. A model must earn its place: it
 * is trained only when that sum is the cheaper.
 */
export function plainSampling(query: BoundQuery, pilot: ArrayLike<number>, p: { frames: number; unlabelled: number; sampleFrames: number; sampleMissing: number; costs: CostModel }): PlainSampling {
  const { frames: N, unlabelled, costs } = p;
  const target = { frames: N, ...countTarget(query, N) };
  const variance = neighbourVariance(pilot);
  const labels = countSamplingLabels(variance, { ...target, unlabelled });
  const withModel = countSamplingLabels(variance * costs.countVarianceRatio, { ...target, unlabelled: Math.max(0, unlabelled - p.sampleMissing) });
  const training = p.sampleMissing * costs.reference + trainingSeconds(costs, p.sampleFrames) + scanSeconds(costs, N) + withModel * costs.reference;
  return { cheaper: labels * costs.reference <= training, labels, training, variance };
}

/** The chosen candidate and option, and its estimated cost. */
export interface CascadeChoice {
  readonly candidate: Candidate;
  readonly option: CandidateOption;
  readonly seconds: number;
}

export interface SearchInput {
  readonly query: BoundQuery;
  readonly task: CascadeTask;
  readonly frames: number;
  readonly sampleFrames: number;
  readonly candidates: readonly Candidate[];
  readonly costs: CostModel;
  /** Frames of the range still unlabelled after the sample. */
  readonly unlabelled: number;
  /** Presence: share of the sample's frames the class is in (sizes the certification sample). */
  readonly baseRate: number;
  /** Count: the random labels plain stratified sampling would need (a model's option needs its variance ratio of them). */
  readonly countLabels?: number;
}

/**
 * Keeps the cheapest option whose estimated accuracy meets the targets (a count's interval is met
 * at run time by sampling until it is narrow enough); declines when none does, or when the best
 * costs more than labelling the rest.
 */
export function searchCascades(input: SearchInput): { choice: CascadeChoice | undefined; fallback: FallbackReason | undefined; considered: Alternative[] } {
  const { query, task, frames: N, sampleFrames, costs } = input;
  const considered: Alternative[] = [];
  let best: CascadeChoice | undefined;
  let bestIndex = -1;
  for (const candidate of input.candidates) {
    const perFrame = costs.decode + (candidate.difference?.enabled ? candidate.difference.expectedSeconds : candidate.cnnCost) / candidate.skip;
    const netIndex = (o: CandidateOption) => NET_MARGINS.indexOf(Number(o.heldOut.netMargin));
    const widest = task === 'presence' ? Math.min(...candidate.options.filter((o) => !o.decide && o.interpolation?.net !== false && meetsAt(query, o.heldOut)).map(netIndex), Infinity) : -1;
    for (const option of candidate.options) {
      // Presence answers are certified: the labels that takes, with the errors it is expected to find, are part of the plan's cost.
      const h = option.heldOut;
      // A count's random labels, with the model as control variate, are part of its cost too.
      const labels = task === 'presence' ? estimatedCertificationLabels(input.unlabelled * (1 - option.uncertain), input.baseRate, certificationTargets(query), { fnr: h.fnr!, fpr: h.fpr! }) : (input.countLabels ?? 0) * countVarianceRatio(h);
      const seconds = N * perFrame + (option.uncertain * (N - sampleFrames) + labels) * costs.reference;
      // A presence net may spend half the target (the cheap stages a quarter each); since the
      // sample holds few interpolation errors, the net used is one margin more cautious than the
      // widest that met it: a net that only just catches the errors the sample showed is not trusted.
      // When the model also decides, its own held-out errors must fit the targets as well.
      // With no net, the expected errors alone must fit the targets (certification checks them).
      const fits = h.fnr! <= query.accuracy.fnr && h.fpr! <= query.accuracy.fpr;
      const meets = task === 'count' || (option.interpolation?.net === false ? fits : Number.isFinite(widest) && netIndex(option) > widest && (!option.decide || fits));
      // Costs within COST_TIE of each other are a tie, kept by the earlier candidate (the smaller
      // model, the narrower net): measured timings are noisy and identical runs must not flip.
      const wins = meets && (!best || seconds < best.seconds * (1 - COST_TIE));
      if (wins) {
        best = { candidate, option, seconds };
        bestIndex = considered.length;
      }
      const description = task === 'presence' ? `${candidate.architecture.inputSize}px ${option.interpolation?.net === false ? 'no net' : `net margin ${h.netMargin}`}${option.decide ? `, model decides the rest (${h.decideFnrShare} / ${h.decideFprShare} of the targets)` : ''}` : `${candidate.architecture.inputSize}px count model`;
      const estimated: Record<string, number> = task === 'presence' ? { fnr: h.fnr!, fpr: h.fpr!, uncertain: option.uncertain, certificationLabels: labels } : { meanAbsoluteError: h.meanAbsoluteError!, varianceRatio: countVarianceRatio(h), labels: Math.round(labels) };
      considered.push({ kind: 'alternative', description, seconds, estimated, meets, chosen: false });
    }
  }
  const marked = considered.map((a, i) => ({ ...a, chosen: i === bestIndex }));
  if (!best) {
    const list = (task === 'presence' ? marked : []).map((a) => `${a.description}: estimated FNR ${fmt(a.estimated.fnr)} / FPR ${fmt(a.estimated.fpr)}, ${fmt(a.seconds)} s`);
    const message = `no cascade met the targets (FNR ${query.accuracy.fnr}, FPR ${query.accuracy.fpr}) on the ${sampleFrames}-frame labelled sample (${list.join('; ')}), so the reference detector labelled every frame`;
    return { choice: undefined, fallback: { kind: 'no-cascade-meets-targets', considered: list, message }, considered: marked };
  }
  const rest = input.unlabelled * costs.reference;
  if (best.seconds >= rest) {
    const message = `the best cascade (${fmt(best.seconds)} s estimated) costs more than labelling the remaining frames (${fmt(rest)} s), so the reference detector labelled every frame`;
    return { choice: undefined, fallback: { kind: 'best-costs-more', bestCost: best.seconds, rest, message }, considered: marked };
  }
  return { choice: best, fallback: undefined, considered: marked };
}

/** Whether a presence option's held-out errors fit the targets, the net within its share. */
function meetsAt(query: BoundQuery, h: Readonly<Record<string, number>>): boolean {
  const { fnr, fpr } = query.accuracy;
  return h.fnr! - h.skipAndDifferenceError! <= fnr * STAGE_BUDGET_SHARE && h.fpr! - h.skipAndDifferenceError! <= fpr * STAGE_BUDGET_SHARE && h.fnr! <= fnr && h.fpr! <= fpr;
}

export function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : Number(v.toFixed(4)).toString();
}
