import { certificationWorthTraining, searchCascades, sampleStep, sampleWorthLabelling, type Considered } from '../cascade-search.js';
import type { OptimizerInput } from '../optimizer-input.js';
import type { RuleOutcome } from '../optimize-step.js';
import { baseRateOf, calibratePlan, chosenStatistics, presencePlan, sampleOf } from './cascade-plan.js';

/**
 * Presence (frame selections, object rows, COUNT(DISTINCT frame)): the stored cascade; cold, the
 * sample to label and the candidates to train, then the cheapest candidate that meets the targets.
 */
export function implementPresenceCascadeRule(input: OptimizerInput): RuleOutcome {
  const { range, labelled, costs, measured } = input;
  const N = range.end - range.start;
  const assumed: Considered[] = costs.assumed.map((a) => ({ kind: 'assumed', cost: a.cost, why: a.why }));
  if (input.stored) return { kind: 'cascade', plan: presencePlan(input, input.stored.statistics, []), cascade: input.stored, fresh: undefined };
  const step = measured.sample?.step ?? sampleStep(N);
  const sample = sampleOf(input, step);
  if (!measured.sample) {
    const declined = sampleWorthLabelling({ frames: N, labelled, sampleFrames: sample.length, costs });
    if (declined) return { kind: 'fallback', reason: declined, considered: [...assumed, { kind: 'fallback', reason: declined }] };
    return { kind: 'measure', plan: calibratePlan(input, 'presence', step, { frames: sample, pilot: false }, assumed) };
  }
  const costsNow = { ...costs, reference: measured.sample.referenceSeconds ?? costs.reference };
  const unlabelled = N - labelled - measured.sample.referenceCalls;
  const baseRate = baseRateOf(measured.sample.truth);
  if (!measured.training) {
    const declined = certificationWorthTraining({ query: input.query, frames: N, unlabelled, sampleFrames: sample.length, baseRate, costs: costsNow });
    if (declined) return { kind: 'fallback', reason: declined, considered: [...assumed, { kind: 'fallback', reason: declined }] };
    return { kind: 'measure', plan: calibratePlan(input, 'presence', step, undefined, assumed) };
  }
  const search = searchCascades({
    query: input.query,
    task: 'presence',
    frames: N,
    sampleFrames: sample.length,
    candidates: measured.training.candidates,
    costs: costsNow,
    unlabelled,
    baseRate,
  });
  const considered: Considered[] = [...assumed, ...search.considered];
  if (!search.choice) return { kind: 'fallback', reason: search.fallback!, considered: [...considered, { kind: 'fallback', reason: search.fallback! }] };
  const chosen = chosenStatistics('presence', step, Array.from(sample), search.choice, costsNow, measured.training.seconds);
  const statistics = { ...chosen, heldOut: { ...chosen.heldOut, baseRate } };
  const candidate = search.choice.candidate;
  const fresh = { statistics, onnx: candidate.trained.onnx, trained: candidate.trained, note: undefined };
  return { kind: 'cascade', plan: presencePlan(input, statistics, considered), cascade: fresh, fresh };
}
