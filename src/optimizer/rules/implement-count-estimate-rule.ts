import { frameList } from '../../video/frame-range.js';
import { countVarianceRatio, plainSampling, sampleStep, sampleWorthLabelling, searchCascades, fmt, type Considered } from '../cascade-search.js';
import { ARCHITECTURES, type CascadeStatistics } from '../cascade-statistics.js';
import type { OptimizerInput } from '../optimizer-input.js';
import type { RuleOutcome } from '../optimize-step.js';
import { baseRateOf, calibratePlan, chosenStatistics, countPlan, sampleOf } from './cascade-plan.js';

/**
 * FCOUNT / COUNT(*): the stored estimate; cold, a pilot third of the sample first, then plain
 * stratified sampling where training could not pay, else the rest of the sample, the count models,
 * and the cheapest of sampling with one as control variate or without.
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
  const pilot = frameList(range.start, range.end, step * 3);
  const pilotValues = Float32Array.from(pilot, (f) => s.truth.get(f)!);
  if (s.pilotOnly) {
    // The rest of the sample, less what the store already holds (as LabelSample counts it: labels before this query are taken to cover it first).
    const rest = sample.filter((f) => !s.truth.has(f));
    const sampleMissing = Math.max(0, rest.length - Math.min(labelled, rest.length));
    const plain = plainSampling(input.query, pilotValues, { frames: N, unlabelled: Math.max(0, N - labelled - pilot.length), sampleFrames: sample.length, sampleMissing, costs: costsNow });
    if (!plain.cheaper) return { kind: 'measure', plan: calibratePlan(input, 'count', step, { frames: rest, pilot: false }, assumed) };
    const statistics = plainStatistics(step, plain.variance, costsNow);
    const note = { stage: `plan: no specialized model (about ${Math.round(plain.labels)} random labels, ${fmt(plain.labels * costsNow.reference)} s, against ${fmt(plain.training)} s to train one and sample with it)`, framesIn: 0, framesDecided: 0, seconds: 0 };
    const fresh = { statistics, onnx: new Uint8Array(0), trained: undefined, note };
    return { kind: 'cascade', plan: countPlan(input, statistics, assumed, plain.labels), cascade: fresh, fresh };
  }
  if (!measured.training) return { kind: 'measure', plan: calibratePlan(input, 'count', step, undefined, assumed) };
  // After training: each model with its labels as control variate, against plain sampling over the same frames (the model unused).
  const unlabelled = N - labelled - s.referenceCalls;
  const plain = plainSampling(input.query, pilotValues, { frames: N, unlabelled, sampleFrames: sample.length, sampleMissing: 0, costs: costsNow });
  const search = searchCascades({ query: input.query, task: 'count', frames: N, sampleFrames: sample.length, candidates: measured.training.candidates, costs: costsNow, unlabelled, baseRate: baseRateOf(s.truth), countLabels: plain.labels });
  const plainSeconds = plain.labels * costsNow.reference;
  const modelWins = search.choice !== undefined && search.choice.seconds < plainSeconds;
  const plainAlternative: Considered = { kind: 'alternative', description: 'no model: plain stratified sampling', seconds: plainSeconds, estimated: { labels: Math.round(plain.labels) }, meets: true, chosen: !modelWins };
  const considered: Considered[] = [...assumed, ...search.considered.map((a) => ({ ...a, chosen: a.chosen && modelWins })), plainAlternative];
  if (!search.choice && plainSeconds >= unlabelled * costsNow.reference) return { kind: 'fallback', reason: search.fallback!, considered: [...considered, { kind: 'fallback', reason: search.fallback! }] };
  if (!search.choice) {
    const statistics = plainStatistics(step, plain.variance, costsNow);
    const fresh = { statistics, onnx: new Uint8Array(0), trained: undefined, note: undefined };
    return { kind: 'cascade', plan: countPlan(input, statistics, considered, plain.labels), cascade: fresh, fresh };
  }
  const chosen = chosenStatistics('count', step, measured.training.trainIdx.map((i) => sample[i]!), search.choice, costsNow, measured.training.seconds);
  // A model that saves fewer labels than its scan costs is stored (its variance ratio prices the next count here) but not used.
  const statistics = modelWins ? chosen : { ...chosen, heldOut: { ...chosen.heldOut, controlVariate: 0 } };
  const candidate = search.choice.candidate;
  const fresh = { statistics, onnx: candidate.trained.onnx, trained: candidate.trained, note: undefined };
  const labels = modelWins ? plain.labels * countVarianceRatio(search.choice.option.heldOut) : plain.labels;
  return { kind: 'cascade', plan: countPlan(input, statistics, considered, labels), cascade: fresh, fresh };
}

/** The statistics of a count with no specialized model: plain stratified sampling. */
function plainStatistics(step: number, variance: number, costs: { reference: number }): CascadeStatistics {
  return {
    task: 'count',
    architecture: ARCHITECTURES[0]!,
    sampleStep: step,
    trainingFrames: [],
    estimationFrames: [],
    skip: 1,
    difference: undefined,
    thresholds: undefined,
    interpolation: undefined,
    heldOut: { frames: 0, controlVariate: 0, blockTruthVariance: variance, specializedModel: 0 },
    costs: { reference: costs.reference },
    trainSeconds: 0,
  };
}
