import type { CandidateOption } from '../../training/cascade-calibration.js';
import { bisectionLabels, calibrateBisection, calibrateInterpolation, NO_NET } from '../calibration.js';
import { certificationTargets, estimatedCertificationLabels } from '../certification.js';
import { certificationCanPay, certificationWorthTraining, searchCascades, sampleStep, sampleWorthLabelling, fmt, type Alternative, type Considered } from '../cascade-search.js';
import { ARCHITECTURES, type CascadeStatistics } from '../cascade-statistics.js';
import { scanSeconds, trainingSeconds, type CostModel } from '../cost-model.js';
import type { OptimizerInput } from '../optimizer-input.js';
import type { RuleOutcome } from '../optimize-step.js';
import { baseRateOf, calibratePlan, chosenStatistics, presencePlan, sampleOf } from './cascade-plan.js';

/**
 * Presence (frame selections, object rows, COUNT(DISTINCT frame)): the stored cascade; cold, the
 * sample to label, then either interpolation with bisection and no model (when no trained cascade
 * could cost less: training, the scan and certifying an error-free answer) or the candidates to
 * train and the cheapest option that meets the targets.
 */
export function implementPresenceCascadeRule(input: OptimizerInput): RuleOutcome {
  const { range, labelled, costs, measured } = input;
  const N = range.end - range.start;
  const assumed: Considered[] = costs.assumed.map((a) => ({ kind: 'assumed', cost: a.cost, why: a.why }));
  if (input.stored) return { kind: 'cascade', plan: presencePlan(input, input.stored.statistics, []), cascade: input.stored, fresh: undefined };
  const step = measured.sample?.step ?? sampleStep(N);
  const sample = sampleOf(input, step);
  if (!measured.sample) {
    const declined = sampleWorthLabelling({ frames: N, labelled, sampleFrames: sample.length, costs }) ?? certificationCanPay({ query: input.query, frames: N, labelled, sampleFrames: sample.length, costs });
    if (declined) return { kind: 'fallback', reason: declined, considered: [...assumed, { kind: 'fallback', reason: declined }] };
    return { kind: 'measure', plan: calibratePlan(input, 'presence', step, { frames: sample, pilot: false }, assumed) };
  }
  const costsNow = { ...costs, reference: measured.sample.referenceSeconds ?? costs.reference };
  const unlabelled = N - labelled - measured.sample.referenceCalls;
  const baseRate = baseRateOf(measured.sample.truth);
  const truth = Float32Array.from(sample, (f) => measured.sample!.truth.get(f) ?? 0);
  const costed = costBisection(input, truth, { step, sampleFrames: sample.length, unlabelled, baseRate, costs: costsNow });
  const bisection = input.noBisection ? { ...costed, alternative: { ...costed.alternative, meets: false, description: `${costed.alternative.description} (turned off: planner.bisection)` } } : costed;
  const untrained = (others: readonly Considered[] = []) => {
    const statistics = untrainedStatistics(step, Array.from(sample), bisection.option, baseRate, costsNow);
    const fresh = { statistics, onnx: new Uint8Array(0), trained: undefined, note: undefined };
    return { kind: 'cascade' as const, plan: presencePlan(input, statistics, [...assumed, ...others, { ...bisection.alternative, chosen: true }]), cascade: fresh, fresh };
  };
  if (!measured.training) {
    // The cheapest any trained cascade could be: training, the scan, and certifying an answer with no error.
    const floor = trainingSeconds(costsNow, sample.length) + scanSeconds(costsNow, N) + estimatedCertificationLabels(unlabelled, baseRate, certificationTargets(input.query)) * costsNow.reference;
    if (bisection.alternative.meets && bisection.alternative.seconds <= floor && bisection.alternative.seconds < unlabelled * costsNow.reference) return untrained();
    const declined = certificationWorthTraining({ query: input.query, frames: N, unlabelled, sampleFrames: sample.length, baseRate, costs: costsNow });
    if (declined && bisection.alternative.meets && bisection.alternative.seconds < unlabelled * costsNow.reference) return untrained();
    if (declined) return { kind: 'fallback', reason: declined, considered: [...assumed, bisection.alternative, { kind: 'fallback', reason: declined }] };
    return { kind: 'measure', plan: calibratePlan(input, 'presence', step, undefined, assumed) };
  }
  const search = searchCascades({ query: input.query, task: 'presence', frames: N, sampleFrames: sample.length, candidates: measured.training.candidates, costs: costsNow, unlabelled, baseRate });
  const bisectionWins = bisection.alternative.meets && bisection.alternative.seconds < unlabelled * costsNow.reference && (!search.choice || bisection.alternative.seconds < search.choice.seconds);
  if (bisectionWins) return untrained(search.considered.map((a) => ({ ...a, chosen: false })));
  const considered: Considered[] = [...assumed, ...search.considered, bisection.alternative];
  if (!search.choice) return { kind: 'fallback', reason: search.fallback!, considered: [...considered, { kind: 'fallback', reason: search.fallback! }] };
  const chosen = chosenStatistics('presence', step, Array.from(sample), search.choice, costsNow, measured.training.seconds);
  const statistics = { ...chosen, heldOut: { ...chosen.heldOut, baseRate } };
  const candidate = search.choice.candidate;
  const fresh = { statistics, onnx: candidate.trained.onnx, trained: candidate.trained, note: undefined };
  return { kind: 'cascade', plan: presencePlan(input, statistics, considered), cascade: fresh, fresh };
}

/** Interpolation with bisection and no model, costed like the search's alternatives: bisection labels and certification (no scan, no training). */
function costBisection(input: OptimizerInput, truth: Float32Array, p: { step: number; sampleFrames: number; unlabelled: number; baseRate: number; costs: CostModel }): { option: CandidateOption; alternative: Alternative } {
  const N = input.range.end - input.range.start;
  const option = bisectionOption(truth, { step: p.step, frames: N, sampleFrames: p.sampleFrames });
  const h = option.heldOut;
  const certify = estimatedCertificationLabels(p.unlabelled * (1 - option.uncertain), p.baseRate, certificationTargets(input.query), { fnr: h.fnr!, fpr: h.fpr! });
  const seconds = (option.uncertain * p.unlabelled + certify) * p.costs.reference;
  const meets = h.fnr! <= input.query.accuracy.fnr && h.fpr! <= input.query.accuracy.fpr;
  const description = `no model: interpolation, gaps with a change bisected (${h.bisectionChanges} changes in the sample, replayed at ${fmt(h.fnr)} FNR / ${fmt(h.fpr)} FPR)`;
  return { option, alternative: { kind: 'alternative', description, seconds, estimated: { fnr: h.fnr!, fpr: h.fpr!, uncertain: option.uncertain, certificationLabels: certify }, meets, chosen: false } };
}

/**
 * Interpolation with no net whose gaps with a change are bisected by the reference (about
 * log2(step) labels a change instead of the whole gap). It needs no model, so it is priced before
 * training. Its expected errors are the sample's bisection replay at a coarser spacing
 * ({@link calibrateBisection}); certification bounds what it really gets wrong.
 */
function bisectionOption(truth: Float32Array, p: { step: number; frames: number; sampleFrames: number }): CandidateOption {
  const interp = calibrateInterpolation(truth, new Float32Array(truth.length), NO_NET);
  const replay = calibrateBisection(truth);
  let changes = 0;
  for (let i = 1; i < truth.length; i++) if (truth[i]! > 0 !== truth[i - 1]! > 0) changes++;
  const uncertain = Math.min(1, (changes * bisectionLabels(p.step)) / Math.max(1, p.frames - p.sampleFrames));
  const { positives, negatives } = replay;
  return {
    thresholds: { ...NO_NET, fnr: 0, fpr: 0, uncertain: 0, positives, negatives },
    interpolation: { ...interp, net: false, bisect: true },
    uncertain,
    heldOut: { fnr: replay.fnr, fpr: replay.fpr, skipAndDifferenceError: 0, netMargin: 0, interpolationErrors: replay.errors, uncertain, positives, negatives, interpolationFrames: interp.agreeing, bisect: 1, bisectionChanges: changes },
  };
}

/** The statistics of a presence cascade with no specialized model (interpolation with bisection). */
function untrainedStatistics(step: number, sample: readonly number[], option: CandidateOption, baseRate: number, costs: CostModel): CascadeStatistics {
  return {
    task: 'presence',
    architecture: ARCHITECTURES[0]!,
    sampleStep: step,
    trainingFrames: sample,
    estimationFrames: [],
    skip: 1,
    difference: undefined,
    thresholds: option.thresholds,
    interpolation: option.interpolation,
    heldOut: { ...option.heldOut, baseRate, specializedModel: 0 },
    costs: { reference: costs.reference, decode: costs.decode },
    trainSeconds: 0,
  };
}
