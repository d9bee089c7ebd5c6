/**
 * The certification procedure (looks, budget, corrections) with a labeller over known truth, the
 * optimizer's estimate of what it will cost, and the model-decides thresholds it prices. The real
 * video replay of the same procedure is test/cascade/presence-coverage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { bandShares, decideCandidates } from '../../src/optimizer/calibration.js';
import { drawCertification, type DecidedAnswer } from '../../src/optimizer/certification-draw.js';
import { estimatedCertificationLabels, firstLookSizes } from '../../src/optimizer/certification.js';
import { interpolateDecisions } from '../../src/operators/interpolate-operator.js';
import { ROUTE } from '../../src/operators/execution-context.js';
import { Random } from '../../src/training/random.js';

const targets = { fnr: 0.05, fpr: 0.05, precision: undefined, confidence: 0.9 };

/** 4,000 frames, a class in 15% of them; `misses` of the positives answered negative. */
function answerWith(misses: number, seed = 1): { answer: DecidedAnswer; truth: Uint8Array } {
  const N = 4000;
  const rng = new Random(seed);
  const truth = Uint8Array.from({ length: N }, () => (rng.next() < 0.15 ? 1 : 0));
  const decision = Int8Array.from(truth);
  let left = misses;
  for (let i = 0; i < N && left > 0; i += 7) if (truth[i]) (decision[i] = 0), left--;
  const verified = Uint8Array.from({ length: N }, (_, i) => (i % 10 === 0 ? 1 : 0));
  for (let i = 0; i < N; i++) if (verified[i]) decision[i] = truth[i]! as 0 | 1;
  return { answer: { frames: Int32Array.from({ length: N }, (_, i) => i), decision, verified }, truth };
}

const labeller = (a: DecidedAnswer, truth: Uint8Array, seen: number[] = []) => async (idx: readonly number[]) => {
  seen.push(...idx);
  return idx.map((i) => truth[a.frames[i]!]!);
};

describe('drawCertification', () => {
  it('a right answer certifies on the first look, with the first-look sample and only unverified frames', async () => {
    const { answer, truth } = answerWith(0);
    const seen: number[] = [];
    const out = await drawCertification(answer, { targets, seed: 4, label: labeller(answer, truth, seen) });
    expect(out.looks).toBe(1);
    expect(out.bounds.fnr).toBeLessThanOrEqual(0.05);
    expect(out.bounds.fpr).toBeLessThanOrEqual(0.05);
    const pos = answer.decision.filter((d, i) => d === 1 && !answer.verified[i]).length;
    const neg = out.unverified - pos;
    const verifiedPos = answer.decision.filter((d, i) => d === 1 && answer.verified[i]).length;
    const first = firstLookSizes(pos, neg, { positives: verifiedPos, negatives: answer.verified.reduce((a, v) => a + v, 0) - verifiedPos }, targets);
    expect(out.sampled).toBe(first.positive + first.negative);
    expect(seen.every((i) => !answer.verified[i])).toBe(true);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('misses found take more looks; the errors counted are the misses drawn', async () => {
    const { answer, truth } = answerWith(25);
    const out = await drawCertification(answer, { targets, seed: 4, label: labeller(answer, truth) });
    let drawnMisses = 0;
    for (const [i, v] of out.labelled) if (v === 1 && answer.decision[i] === 0) drawnMisses++;
    expect(out.errors.negative).toBe(drawnMisses);
    expect(out.errors.negative).toBeGreaterThan(0);
    expect(out.looks).toBeGreaterThan(1);
    for (const [i, v] of out.labelled) expect(v).toBe(truth[answer.frames[i]!]);
  });

  it('stops at the budget and says so; frames labelled before are free', async () => {
    const { answer, truth } = answerWith(25);
    let calls = 0;
    const free = new Set([1, 2, 3]);
    const out = await drawCertification(answer, {
      targets,
      seed: 4,
      budget: { left: () => 120 - calls, free: (f) => free.has(f) },
      label: async (idx) => {
        calls += idx.filter((i) => !free.has(answer.frames[i]!)).length;
        return idx.map((i) => truth[i]!);
      },
    });
    expect(out.budgetReached).toBe(true);
    expect(calls).toBeLessThanOrEqual(120);
  });

  it('the same seed draws the same frames; another seed others', async () => {
    const { answer, truth } = answerWith(0);
    const a = await drawCertification(answer, { targets, seed: 9, label: labeller(answer, truth) });
    const b = await drawCertification(answer, { targets, seed: 9, label: labeller(answer, truth) });
    const c = await drawCertification(answer, { targets, seed: 10, label: labeller(answer, truth) });
    expect([...a.labelled.keys()]).toEqual([...b.labelled.keys()]);
    expect([...a.labelled.keys()]).not.toEqual([...c.labelled.keys()]);
  });
});

describe("the optimizer's certification estimate", () => {
  it('with no error expected it is the first look; expected errors cost more, and leave no room at the target', () => {
    const t = { ...targets };
    const none = estimatedCertificationLabels(4000, 0.13, t);
    const first = firstLookSizes(520, 3480, { positives: 0, negatives: 0 }, t);
    expect(none).toBe(first.positive + first.negative);
    const some = estimatedCertificationLabels(4000, 0.13, t, { fnr: 0.01, fpr: 0.01 });
    const more = estimatedCertificationLabels(4000, 0.13, t, { fnr: 0.03, fpr: 0.01 });
    expect(some).toBeGreaterThan(none);
    expect(more).toBeGreaterThan(some);
    // An expected miss rate at the target cannot be certified by a sample: the whole stratum.
    expect(estimatedCertificationLabels(4000, 0.13, t, { fnr: 0.05, fpr: 0 })).toBeGreaterThanOrEqual(3400);
  });

  it('does not grow with the frames once the stratum is much larger than the sample', () => {
    const short = estimatedCertificationLabels(20_000, 0.13, targets, { fnr: 0.01, fpr: 0.01 });
    const long = estimatedCertificationLabels(200_000, 0.13, targets, { fnr: 0.01, fpr: 0.01 });
    expect(long / short).toBeLessThan(1.1);
  });
});

describe('model-decides thresholds', () => {
  it('sit at quantiles of the held-out scores, priced by what so few frames can show', () => {
    const pos = Array.from({ length: 200 }, (_, i) => 0.5 + i / 400);
    const neg = Array.from({ length: 800 }, (_, i) => i / 1600);
    const held = { scores: [...pos, ...neg], truth: [...pos.map(() => 1), ...neg.map(() => 0)] };
    const c = decideCandidates(held, { fnr: 0.1, fpr: 0.1 });
    expect(c).toHaveLength(4);
    const loose = c.find((d) => d.fnrShare === 0.5 && d.fprShare === 0.5)!;
    // 5% of the positives lie below cLow, 5% of the negatives above cHigh.
    expect(pos.filter((p) => p < loose.cLow).length).toBeGreaterThanOrEqual(9);
    expect(pos.filter((p) => p < loose.cLow).length).toBeLessThanOrEqual(11);
    expect(neg.filter((p) => p > loose.cHigh).length).toBeLessThanOrEqual(41);
    expect(loose.fnr).toBeGreaterThanOrEqual(0.05);
    // Ten held-out positives cannot show a miss rate under 6.7% (Clopper-Pearson at 50%, no miss).
    const few = decideCandidates({ scores: [...pos.slice(0, 10), ...neg], truth: [...Array(10).fill(1), ...neg.map(() => 0)] }, { fnr: 0.1, fpr: 0.1 });
    expect(few[0]!.fnr).toBeGreaterThan(0.066);
  });

  it('band shares count the frames next to changes and the flagged ones whose score is in the band', () => {
    const truth = [0, 0, 0, 1, 1, 1, 0, 0];
    const scores = [0.1, 0.1, 0.5, 0.9, 0.5, 0.9, 0.1, 0.1];
    const net = { cLow: 0.3, cHigh: 0.7 };
    const b = bandShares(truth, scores, net, { cLow: 0.4, cHigh: 0.6 });
    // Next to a change: frames 2, 3, 5, 6 (scores 0.5, 0.9, 0.9, 0.1): one in the band.
    expect(b.nearChanges).toBeCloseTo(1 / 4, 9);
    // Frame 4 sits between agreeing positives with 0.5 <= cHigh: flagged, and in the band.
    expect(b.flagged).toBe(1);
  });

  it('interpolation decides agreeing gaps; the model decides the rest outside its band, the band stays undecided', () => {
    const route = Uint8Array.from([ROUTE.labelled, 0, 0, ROUTE.labelled, 0, 0, ROUTE.labelled, 0]);
    const decision = Int8Array.from([0, -1, -1, 0, -1, -1, 1, -1]);
    const score = Float32Array.from([0, 0.1, 0.9, 0, 0.95, 0.5, 1, 0.05]);
    const node = { thresholds: { cLow: 0.3, cHigh: 0.7, fnr: 0, fpr: 0, uncertain: 0, positives: 1, negatives: 1 }, net: true, decide: { cLow: 0.2, cHigh: 0.8 } };
    const undecided = interpolateDecisions(node, route, decision, score);
    // 1: agreeing negative gap, not flagged; 2: flagged (0.9 >= 0.3), the model says positive;
    // 4: disagreeing gap, 0.95 positive; 5: in the band, undecided; 7: after the last anchor, 0.05 negative.
    expect(Array.from(decision)).toEqual([0, 0, 1, 0, 1, -1, 1, 0]);
    expect(undecided).toBe(0);
    const without = Int8Array.from([0, -1, -1, 0, -1, -1, 1, -1]);
    expect(interpolateDecisions({ ...node, decide: undefined }, route, without, score)).toBe(1);
    expect(Array.from(without)).toEqual([0, 0, -1, 0, -1, -1, 1, -1]);
  });
});
