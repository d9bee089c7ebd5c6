import { frameList } from '../../video/frame-range.js';
import { plainSampling, sampleStep, sampleWorthLabelling, searchCascades, fmt, type Considered } from '../cascade-search.js';
import { ARCHITECTURES, type CascadeStatistics } from '../cascade-statistics.js';
import type { OptimizerInput } from '../optimizer-input.js';
import type { RuleOutcome } from '../optimize-step.js';
import { baseRateOf, calibratePlan, chosenStatistics, countPlan, sampleOf } from './cascade-plan.js';

/**
 * FCOUNT / COUNT(*): the stored estimate; cold, a pilot third of the sample first, then plain
 * stratified sampling where training could not pay, else the rest of the sample and a count model
 * as control variate.
 */
export function implementCountEstimateRule(input: OptimizerInput): RuleOutcome {
  const { range, labelled, costs, measured } = input;
  const N = range.end - range.start;
  const assumed: Considered[] = costs.assumed.map((a) => ({ kind: 'assumed', cost: a.cost, why: a.why }));
  if (input.stored) return { kind: 'cascade', plan: countPlan(input, input.stored.statistics, []), cascade: input.stored, fresh: undefined };
  const step = measured.sample?.step ?? sampleStep(N);
  const sample = sampleOf(input, step);
  const s = measured.sample;
  if (!s) {
    const declined = sampleWorthLabelling({ frames: N, labelled, sampleFrames: sample.length, costs });
    if (declined) return { kind: 'fallback', reason: declined, considered: [...assumed, { kind: 'fallback', reason: declined }] };
    return { kind: 'measure', plan: calibratePlan(input, 'count', step, { frames: frameList(range.start, range.end, step * 3), pilot: true }, assumed) };
  }
  const costsNow = { ...costs, reference: s.referenceSeconds ?? costs.reference };
  if (s.pilotOnly) {
    const pilot = frameList(range.start, range.end, step * 3);
    const plain = plainSampling(input.query, Float32Array.from(pilot, (f) => s.truth.get(f)!), { frames: N, unlabelled: Math.max(0, N - labelled - pilot.length), sampleFrames: sample.length, costs: costsNow });
    if (!plain.cheaper) return { kind: 'measure', plan: calibratePlan(input, 'count', step, { frames: sample.filter((f) => !s.truth.has(f)), pilot: false }, assumed) };
    const statistics: CascadeStatistics = {
      task: 'count',
      architecture: ARCHITECTURES[0]!,
      sampleStep: step,
      trainingFrames: [],
      estimationFrames: [],
      skip: 1,
      difference: undefined,
      thresholds: undefined,
      interpolation: undefined,
      heldOut: { frames: 0, controlVariate: 0, blockTruthVariance: plain.variance, specializedModel: 0 },
      costs: { reference: costsNow.reference },
      trainSeconds: 0,
    };
    const note = { stage: `plan: no specialized model (about ${Math.round(plain.labels)} random labels, ${fmt(plain.labels * costsNow.reference)} s, against ${fmt(plain.training)} s to train one)`, framesIn: 0, framesDecided: 0, seconds: 0 };
    const fresh = { statistics, onnx: new Uint8Array(0), trained: undefined, note };
    return { kind: 'cascade', plan: countPlan(input, statistics, assumed), cascade: fresh, fresh };
  }
  if (!measured.training) return { kind: 'measure', plan: calibratePlan(input, 'count', step, undefined, assumed) };
  const search = searchCascades({ query: input.query, task: 'count', frames: N, sampleFrames: sample.length, candidates: measured.training.candidates, costs: costsNow, unlabelled: N - labelled - s.referenceCalls, baseRate: baseRateOf(s.truth) });
  const considered: Considered[] = [...assumed, ...search.considered];
  if (!search.choice) return { kind: 'fallback', reason: search.fallback!, considered: [...considered, { kind: 'fallback', reason: search.fallback! }] };
  const statistics = chosenStatistics('count', step, measured.training.trainIdx.map((i) => sample[i]!), search.choice, costsNow, measured.training.seconds);
  const candidate = search.choice.candidate;
  const fresh = { statistics, onnx: candidate.trained.onnx, trained: candidate.trained, note: undefined };
  return { kind: 'cascade', plan: countPlan(input, statistics, considered), cascade: fresh, fresh };
}
