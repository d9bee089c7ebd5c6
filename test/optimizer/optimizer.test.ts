/**
 * The optimizer on recorded statistics (no video, no model): which plan it returns for a cold
 * query, after each measuring step, and for a stored cascade; that the cheapest alternative that
 * meets the targets wins, ties keep the earlier (smaller) one, and a missed target or a costlier
 * best falls back to the exact plan with its typed reason. The figures are of the kind a real run
 * stores (held-out errors, uncertain shares, costs in seconds per frame).
 */
import { describe, expect, it } from 'vitest';
import { bindQuery, type BoundQuery } from '../../src/binder/index.js';
import { parseQuery } from '../../src/language/index.js';
import { formatExpression } from '../../src/language/format-query.js';
import { ARCHITECTURES, type CascadeStatistics } from '../../src/optimizer/cascade-statistics.js';
import { estimatedCertificationLabels } from '../../src/optimizer/certification.js';
import type { CostModel } from '../../src/optimizer/cost-model.js';
import type { Measurements } from '../../src/optimizer/measurements.js';
import type { OptimizerInput } from '../../src/optimizer/optimizer-input.js';
import { cascadeTaskOf, optimize } from '../../src/optimizer/optimizer.js';
import type { OptimizeStep } from '../../src/optimizer/optimize-step.js';
import { explainPlan } from '../../src/plan/explain.js';
import { buildLogicalPlan } from '../../src/plan/logical-node.js';
import { inputOf, type PhysicalNode } from '../../src/plan/physical-node.js';
import type { Candidate, CandidateOption } from '../../src/training/cascade-calibration.js';
import type { TrainedModel } from '../../src/training/trainer.js';
import { fakeContext } from '../binder/fake-context.js';

const N = 1200;
const COSTS: CostModel = { reference: 0.06, decode: 0.0004, specialized: 0.0002, trainPerImageEpoch: 0.0008, epochs: 12, uncertainShare: 0.15, countVarianceRatio: 0.5, assumed: [] };

function bound(sql: string): { query: BoundQuery; logical: ReturnType<typeof buildLogicalPlan> } {
  const statement = parseQuery(sql);
  const query = bindQuery(statement, fakeContext());
  const select = statement.kind === 'explain' ? statement.query : statement;
  return { query, logical: buildLogicalPlan(query, select.where ? `WHERE ${formatExpression(select.where)}` : '(none)') };
}

function inputFor(sql: string, over: Partial<OptimizerInput> = {}): OptimizerInput {
  const { query, logical } = bound(sql);
  return {
    query,
    logical,
    video: { name: 'traffic', path: '/data/road_polecam.mp4' },
    referenceModel: 'yolo11n_int8dyn_640',
    range: { start: 0, end: N },
    labelled: 0,
    costs: COSTS,
    referenceDetectorSeconds: 0.05,
    exact: false,
    stored: undefined,
    measured: {},
    ...over,
  };
}

const kinds = (node: PhysicalNode | undefined): string[] => {
  const out: string[] = [];
  for (let n = node; n; n = inputOf(n)) out.push(n.kind === 'ReferenceScan' ? `ReferenceScan(${n.role})` : n.kind);
  return out;
};

const trained = { onnx: new Uint8Array([1, 2, 3]), manifest: {}, metrics: { epochs: 11 } } as unknown as TrainedModel;

/** A presence option as the calibration records it. */
function option(margin: number, fnr: number, fpr: number, uncertain: number): CandidateOption {
  return {
    thresholds: { cLow: 0.1, cHigh: 0.9, fnr, fpr, positives: 60, negatives: 140 } as never,
    interpolation: { agreeing: 180, errors: 0, net: true } as never,
    uncertain,
    heldOut: { frames: 50, fnr, fpr, skipAndDifferenceError: 0, netMargin: margin, uncertain },
  };
}

function candidate(size: 0 | 1, cnnCost: number, options: CandidateOption[], skip = 1): Candidate {
  return { architecture: ARCHITECTURES[size]!, trained, cnnCost, skip, difference: undefined, trainPerImageEpoch: 0.0008, options };
}

function measured(task: 'presence' | 'count', candidates: Candidate[], truth: (f: number) => number = (f) => (f % 40 < 10 ? 1 : 0)): Measurements {
  const step = 6;
  const frames = Int32Array.from({ length: N / step }, (_, i) => i * step);
  return {
    sample: { step, frames, truth: new Map(Array.from(frames, (f) => [f, truth(f)])), thumbnails: new Map(), pilotOnly: false, referenceSeconds: 0.06, referenceCalls: frames.length },
    training: { candidates, trainIdx: Array.from(frames, (_, i) => i).filter((i) => task === 'presence' || i % 2 === 0), estimationIdx: [], seconds: 9 },
  };
}

const executed = (step: OptimizeStep) => {
  if (step.kind !== 'execute') throw new Error(`expected a plan to execute, got ${step.kind}`);
  return step;
};

describe('optimize: presence', () => {
  const SQL = "SELECT frame FROM traffic WHERE class = 'car'";

  it('cold: a plan of measuring steps, the sample to label deepest', () => {
    const step = optimize(inputFor(`${SQL} FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%`));
    expect(step.kind).toBe('measure');
    expect(kinds(step.plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates', 'LabelSample']);
    const sample = step.plan.input.kind === 'Calibrate' && step.plan.input.input.kind === 'TrainCandidates' ? step.plan.input.input.input : undefined;
    expect(sample).toMatchObject({ step: 6, frames: 200, missing: 200, pilot: false });
    expect(explainPlan(step.plan)).toMatchInlineSnapshot(`
      "FrameSelect frame (frames with a matching object)
      └─ Filter WHERE class = 'car'
         └─ Calibrate (presence) on 1200 frames: not trained yet; the optimizer chooses the cascade from these measurements, and falls back to the reference on every frame when that is cheaper or no cascade meets the targets
            └─ TrainCandidates 32px, 64px on the 200-frame sample, calibrated on later time blocks (3.8 s estimated)
               └─ LabelSample yolo11n_int8dyn_640: every 6th frame, 200 frames, 200 to detect (60.000 ms/frame)"
    `);
  });

  it('after the sample, the candidates to train; after training, the cheapest option that meets the targets', () => {
    const sampleOnly = measured('presence', []);
    delete sampleOnly.training;
    const train = optimize(inputFor(SQL, { measured: sampleOnly }));
    expect(kinds(train.plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates']);

    // Margins run widest first; the net used is one more cautious than the widest that met the targets.
    const small = candidate(0, 0.0002, [option(0.5, 0.02, 0, 0.1), option(0.25, 0.004, 0.002, 0.2), option(0.1, 0.001, 0.001, 0.3)]);
    const large = candidate(1, 0.0009, [option(0.5, 0.003, 0.001, 0.05), option(0.25, 0.002, 0.001, 0.06)]);
    const step = executed(optimize(inputFor(SQL, { measured: measured('presence', [small, large]) })));
    expect(step.fallback).toBeUndefined();
    expect(kinds(step.plan)).toEqual(['Answer', 'Certify', 'ReferenceScan(uncertain)', 'Interpolate', 'SpecializedScore', 'DifferenceFilter', 'FrameSkip', 'Decode']);
    // small: margin 0.25 is the widest that meets, so 0.1 (30% uncertain) is its best; large: 0.25 (6%).
    // Costs: scan + (uncertain frames + certification labels) x reference; the class is in a quarter
    // of the sample; 1,000 frames are unlabelled after it; certification expects the errors each
    // option's held-out rates say it leaves.
    const certify = (uncertain: number, fnr = 0, fpr = 0) => estimatedCertificationLabels(1000 * (1 - uncertain), 0.25, { fnr: 0.01, fpr: 0.01, precision: undefined, confidence: 0.95 }, { fnr, fpr });
    const cost = (perFrame: number, uncertain: number, fnr = 0, fpr = 0) => Number((1200 * perFrame + (uncertain * 1000 + certify(uncertain, fnr, fpr)) * 0.06).toFixed(2));
    // More frames to the reference leave fewer to certify: the small model's cautious net costs
    // within 10% of the large one's, a tie, so the earlier (small) candidate stays.
    expect(cost(0.0013, 0.06, 0.002, 0.001)).toBeGreaterThan(cost(0.0006, 0.3, 0.001, 0.001) * 0.9);
    expect(step.cascade!.statistics).toMatchObject({ architecture: ARCHITECTURES[0], heldOut: { netMargin: 0.1, baseRate: 0.25 }, sampleStep: 6, skip: 1 });
    const alternatives = step.plan.considered.filter((c) => c.kind === 'alternative');
    // Stays of 10 frames, sampled every 6: bisection with no model misses most of them in its replay.
    const bisection = alternatives.find((c) => c.description.startsWith('no model:'));
    expect(bisection).toMatchObject({ meets: false, chosen: false });
    expect(bisection!.estimated.fnr).toBeGreaterThan(0.5);
    const considered = alternatives.filter((c) => c !== bisection);
    expect(considered.map((c) => [c.description, c.meets, c.chosen, Number(c.seconds.toFixed(2))])).toEqual([
      ['32px net margin 0.5', false, false, cost(0.0006, 0.1, 0.02, 0)],
      ['32px net margin 0.25', false, false, cost(0.0006, 0.2, 0.004, 0.002)],
      ['32px net margin 0.1', true, true, cost(0.0006, 0.3, 0.001, 0.001)],
      ['64px net margin 0.5', false, false, cost(0.0013, 0.05, 0.003, 0.001)],
      ['64px net margin 0.25', true, false, cost(0.0013, 0.06, 0.002, 0.001)],
    ]);
    expect(certify(0.06)).toBeGreaterThan(100);
    expect(step.fresh?.onnx).toBe(trained.onnx);
  });

  it('the model deciding what interpolation leaves wins when it sends fewer frames to the reference, priced with the misses it is expected to leave', () => {
    const deciding = (o: CandidateOption, fnr: number, uncertain: number): CandidateOption => ({
      ...o,
      decide: { cLow: 0.2, cHigh: 0.8 },
      uncertain,
      heldOut: { ...o.heldOut, fnr, uncertain, modelDecides: 1, decideFnrShare: 0.2, decideFprShare: 0.2 },
    });
    const nets = [option(0.5, 0.1, 0, 0.4), option(0.25, 0.02, 0.01, 0.5), option(0.1, 0.005, 0.005, 0.6)];
    // Behind the 0.1 net: one that leaves 5% to the reference at an expected miss rate of 1%, one over the target.
    const small = candidate(0, 0.0002, [...nets, deciding(nets[2]!, 0.01, 0.05), deciding(nets[2]!, 0.06, 0.02)]);
    const step = executed(optimize(inputFor(`${SQL} FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%`, { measured: measured('presence', [small]) })));
    const considered = step.plan.considered.filter((c) => c.kind === 'alternative');
    const cheap = considered.find((c) => c.description.includes('decides') && c.estimated.fnr === 0.01)!;
    const over = considered.find((c) => c.estimated.fnr === 0.06)!;
    expect(cheap.chosen).toBe(true);
    expect(over.meets).toBe(false);
    expect(step.cascade!.statistics.decide).toEqual({ cLow: 0.2, cHigh: 0.8 });
    const certify = estimatedCertificationLabels(1000 * 0.95, 0.25, { fnr: 0.05, fpr: 0.05, precision: undefined, confidence: 0.9 }, { fnr: 0.01, fpr: 0.005 });
    expect(certify).toBeLessThan(400);
    expect(cheap.estimated.certificationLabels).toBe(certify);
    expect(cheap.seconds).toBeCloseTo(1200 * 0.0006 + (0.05 * 1000 + certify) * 0.06, 6);
    expect(explainPlan(step.plan)).toContain('the model decides the rest (p < 0.2000 negative, p > 0.8000 positive), its band goes to the reference');
  });

  it('costs within 10% are a tie: the earlier (smaller) candidate stays', () => {
    const a = candidate(0, 0.0002, [option(0.5, 0, 0, 0.1), option(0.25, 0, 0, 0.1)]);
    const b = candidate(1, 0.0002, [option(0.5, 0, 0, 0.095), option(0.25, 0, 0, 0.095)]);
    const step = executed(optimize(inputFor(SQL, { measured: measured('presence', [a, b]) })));
    expect(step.cascade!.statistics.architecture).toEqual(ARCHITECTURES[0]);
  });

  it('no option meets the targets: the exact plan, with the typed reason and every alternative', () => {
    const miss = candidate(0, 0.0002, [option(0.5, 0.2, 0, 0.1), option(0.25, 0.05, 0, 0.2)]);
    const step = executed(optimize(inputFor(SQL, { measured: measured('presence', [miss]) })));
    expect(kinds(step.plan)).toEqual(['Answer', 'ReferenceScan(all)']);
    expect(step.fallback?.kind).toBe('no-cascade-meets-targets');
    expect(step.fallback?.message).toMatch(/^no cascade met the targets \(FNR 0\.01, FPR 0\.01\) on the 200-frame labelled sample \(32px net margin 0\.5: estimated FNR 0\.2 \/ FPR 0, .* s; 32px net margin 0\.25: estimated FNR 0\.05/);
    expect(step.plan.considered.at(-1)).toEqual({ kind: 'fallback', reason: step.fallback });
  });

  it('the best costs more than labelling the rest: the exact plan, says so', () => {
    const slow = candidate(0, 0.0002, [option(0.5, 0, 0, 1), option(0.25, 0, 0, 1)]);
    const step = executed(optimize(inputFor(SQL, { measured: measured('presence', [slow]) })));
    expect(step.fallback).toMatchObject({ kind: 'best-costs-more', rest: expect.closeTo(1000 * 0.06, 6) });
  });

  it('before the sample: when certification at the most favourable base rate would label nearly all the frames left, the exact plan in one pass', () => {
    // 1,200 frames at 1% / 1% and 95%: a 200-frame sample leaves 1,000, and certifying an
    // error-free answer labels at least ~900 of them whatever the class's share.
    const strict = executed(optimize(inputFor(SQL)));
    expect(kinds(strict.plan)).toEqual(['Answer', 'ReferenceScan(all)']);
    expect(strict.fallback).toMatchObject({ kind: 'certification-costs-more', rest: expect.closeTo(1000 * 0.06, 6) });
    const labels = (strict.fallback as { certificationLabels: number }).certificationLabels;
    expect(labels).toBeGreaterThanOrEqual(900);
    expect(labels).toBe(Math.min(...Array.from({ length: 99 }, (_, i) => estimatedCertificationLabels(1000, (i + 1) / 100, { fnr: 0.01, fpr: 0.01, precision: undefined, confidence: 0.95 }))));
    expect(explainPlan(strict.plan)).toContain('whatever the class\'s share of frames');
    // The same targets over ten times the frames leave room to save: the sample is labelled.
    expect(optimize(inputFor(SQL, { range: { start: 0, end: 12_000 } })).kind).toBe('measure');
    // Looser targets on the same 1,200 frames need ~150 labels: the sample is labelled.
    expect(optimize(inputFor(`${SQL} FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%`)).kind).toBe('measure');
  });

  it('a class in every sample frame cannot be certified for less than labelling the rest: the exact plan, without training', () => {
    const everywhere = measured('presence', [], () => 1);
    delete everywhere.training;
    const step = executed(optimize(inputFor(`${SQL} FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%`, { measured: everywhere })));
    expect(step.fallback).toMatchObject({ kind: 'certification-costs-more', rest: expect.closeTo(1000 * 0.06, 6) });
    expect(explainPlan(step.plan)).toContain('the class is in 100.0% of the sample');
    // A class in a quarter of the frames is worth training for at the same targets.
    const quarter = measured('presence', []);
    delete quarter.training;
    expect(kinds(optimize(inputFor(`${SQL} FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%`, { measured: quarter })).plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates']);
  });

  it('long stays: interpolation with bisection and no model, chosen after the sample without training when no trained cascade could cost less', () => {
    const TARGETS = ' FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%';
    // A quarter of every 600 frames: 3 changes in the range (150, 600, 750), none hidden inside a sample gap.
    const long = measured('presence', [], (f) => (f % 600 < 150 ? 1 : 0));
    delete long.training;
    const step = executed(optimize(inputFor(SQL + TARGETS, { measured: long })));
    expect(step.fallback).toBeUndefined();
    expect(kinds(step.plan)).toEqual(['Answer', 'Certify', 'ReferenceScan(uncertain)', 'Interpolate']);
    expect(step.fresh).toMatchObject({ trained: undefined, onnx: new Uint8Array(0) });
    expect(step.cascade!.statistics).toMatchObject({ trainSeconds: 0, heldOut: { specializedModel: 0, bisect: 1, bisectionChanges: 3, fnr: 0, fpr: 0 }, interpolation: { net: false, bisect: true } });
    // Cost: 3 changes x ceil(log2 6) = 3 labels each, and certification; nothing scanned.
    const certify = estimatedCertificationLabels(1000 * (1 - 9 / 1000), 0.25, { fnr: 0.05, fpr: 0.05, precision: undefined, confidence: 0.9 }, { fnr: 0, fpr: 0 });
    const chosen = step.plan.considered.find((c) => c.kind === 'alternative' && c.chosen);
    expect(chosen).toMatchObject({ meets: true, estimated: { uncertain: 9 / 1000, certificationLabels: certify } });
    expect(chosen?.kind === 'alternative' && chosen.seconds).toBeCloseTo((9 + certify) * 0.06, 6);
    const text = explainPlan(step.plan);
    expect(text).toContain('gaps with a change are bisected by the reference (about 3 labels each)');
    expect(text).toContain("chosen: no model: interpolation, gaps with a change bisected (3 changes in the sample, replayed at 0 FNR / 0 FPR)");
    // Turned off (QueryOptions.planner.bisection = false): the candidates are trained instead.
    const off = optimize(inputFor(SQL + TARGETS, { measured: long, noBisection: true }));
    expect(kinds(off.plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates']);
    // The same sample with a change every few frames: bisection's replay misses too much, so the candidates are trained.
    const short = measured('presence', [], (f) => (f % 40 < 10 ? 1 : 0));
    delete short.training;
    expect(kinds(optimize(inputFor(SQL + TARGETS, { measured: short })).plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates']);
  });

  it('labelling the rest is cheaper than any cascade: the exact plan before anything is measured', () => {
    const step = executed(optimize(inputFor(SQL, { labelled: N - 50 })));
    expect(step.fallback?.kind).toBe('labelling-cheaper');
    expect(explainPlan(step.plan)).toContain('cascade not used: labelling the 50 unlabelled frames (3 s estimated) is cheaper than sampling, training and a cascade');
  });

  it('a stored cascade runs as stored; --exact and shapes no cascade answers take the exact plan', () => {
    const st: CascadeStatistics = { task: 'presence', architecture: ARCHITECTURES[0]!, sampleStep: 6, trainingFrames: [], skip: 2, difference: undefined, thresholds: { cLow: 0.2, cHigh: 0.8 } as never, interpolation: undefined, estimationFrames: [], heldOut: { uncertain: 0.1 }, costs: { reference: 0.06, decode: 0.0004, specialized: 0.0002 }, trainSeconds: 5 };
    const stored = executed(optimize(inputFor(SQL, { stored: { statistics: st, onnx: new Uint8Array(1) } })));
    expect(stored.fresh).toBeUndefined();
    const certify = stored.plan.input.kind === 'Certify' ? stored.plan.input.estimatedLabels : NaN;
    expect(certify).toBe(estimatedCertificationLabels(N * 0.9, 0.5, { fnr: 0.01, fpr: 0.01, precision: undefined, confidence: 0.95 }));
    expect(stored.plan.seconds).toBeCloseTo(N * (0.0004 + 0.0002 / 2) + (0.1 * N + certify) * 0.06, 9);
    expect(kinds(executed(optimize(inputFor(SQL, { exact: true }))).plan)).toEqual(['Answer', 'ReferenceScan(all)']);
    for (const sql of ["SELECT timestamp FROM traffic WHERE class = 'car' GROUP BY timestamp HAVING SUM(class = 'car') >= 2 LIMIT 3", "SELECT AVG(score) FROM traffic WHERE class = 'car'"]) {
      expect(cascadeTaskOf(bound(sql).logical)).toBeUndefined();
    }
    expect(cascadeTaskOf(bound("SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car'").logical)).toBe('presence');
  });
});

describe('optimize: count', () => {
  const SQL = "SELECT FCOUNT(*) FROM traffic WHERE class = 'car'";
  const pilot = (truth: (f: number) => number): Measurements => {
    const frames = Int32Array.from({ length: N / 6 }, (_, i) => i * 6);
    const labelled = frames.filter((_, i) => i % 3 === 0);
    return { sample: { step: 6, frames, truth: new Map(Array.from(labelled, (f) => [f, truth(f)])), thumbnails: new Map(), pilotOnly: true, referenceSeconds: 0.06, referenceCalls: labelled.length } };
  };

  it('cold: the pilot third of the sample first', () => {
    const step = optimize(inputFor(SQL));
    expect(kinds(step.plan)).toEqual(['Answer', 'Calibrate', 'TrainCandidates', 'LabelSample']);
    expect(explainPlan(step.plan)).toContain('LabelSample yolo11n_int8dyn_640 (pilot third): every 18th frame, 67 frames, 67 to detect');
  });

  it('a steady count needs no model: plain stratified sampling, stored without one', () => {
    // Three parked cars on every pilot frame: no variance between neighbours, so no labels to save.
    const step = executed(optimize(inputFor(SQL, { measured: pilot(() => 3) })));
    expect(kinds(step.plan)).toEqual(['Answer', 'StratifiedEstimate']);
    expect(step.fresh).toMatchObject({ trained: undefined, statistics: { heldOut: { specializedModel: 0, controlVariate: 0 } } });
    expect(step.fresh?.note?.stage).toMatch(/^plan: no specialized model \(about \d+ random labels/);
  });

  it('a count that swings between neighbouring frames: the rest of the sample, then a count model as control variate', () => {
    // ± 0.5 a frame: plain sampling would need about 550 labels (33 s); a model that halves the variance (the assumed ratio) pays for its training.
    const WIDE = `${SQL} ERROR WITHIN 0.5`;
    const swinging = pilot((f) => (f % 12 === 0 ? 9 : 0));
    const rest = optimize(inputFor(WIDE, { measured: swinging }));
    expect(rest.kind).toBe('measure');
    const label = rest.plan.input.kind === 'Calibrate' && rest.plan.input.input.kind === 'TrainCandidates' ? rest.plan.input.input.input : undefined;
    expect(label).toMatchObject({ pilot: false, frames: 200 - 67 });
    const model = candidate(0, 0.0002, [{ uncertain: 0, heldOut: { frames: 100, meanAbsoluteError: 0.4, meanBaselineError: 2, blockTruthVariance: 9, blockResidualVariance: 1, controlVariate: 1 } }]);
    const step = executed(optimize(inputFor(WIDE, { measured: measured('count', [model], (f) => (f % 12 === 0 ? 9 : 0)) })));
    expect(kinds(step.plan)).toEqual(['Answer', 'StratifiedEstimate', 'SpecializedScore', 'Decode']);
    expect(step.plan.input).toMatchObject({ kind: 'StratifiedEstimate', pilotVariance: 1, within: 0.5, confidence: 0.95 });
    expect(step.plan.considered.filter((c) => c.kind === 'alternative').map((a) => [a.description, a.chosen])).toEqual([
      ['32px count model', true],
      ['no model: plain stratified sampling', false],
    ]);
  });

  it('at the default ± 0.075 the same swinging count would label nearly every frame with or without a model: no training', () => {
    const step = executed(optimize(inputFor(SQL, { measured: pilot((f) => (f % 12 === 0 ? 9 : 0)) })));
    expect(kinds(step.plan)).toEqual(['Answer', 'StratifiedEstimate']);
    expect(step.fresh?.note?.stage).toMatch(/^plan: no specialized model \(about 1133 random labels, 67\.98 s, against \d+(\.\d+)? s to train one and sample with it\)$/);
  });

  it('a trained model that saves fewer labels than its scan costs is stored but not used', () => {
    // Residual variance 0.95 of the count's: about 5% fewer labels, against scanning every frame.
    const weak = candidate(0, 0.01, [{ uncertain: 0, heldOut: { frames: 100, meanAbsoluteError: 1.8, meanBaselineError: 1.9, blockTruthVariance: 2, blockResidualVariance: 1.9, controlVariate: 1 } }]);
    const step = executed(optimize(inputFor(`${SQL} ERROR WITHIN 0.5`, { measured: measured('count', [weak], (f) => (f % 12 === 0 ? 9 : 0)) })));
    expect(kinds(step.plan)).toEqual(['Answer', 'StratifiedEstimate']);
    expect(step.plan.input).toMatchObject({ kind: 'StratifiedEstimate', withoutModel: 'no-gain' });
    expect(step.fresh?.trained).toBeDefined();
    expect(step.fresh?.statistics.heldOut.controlVariate).toBe(0);
    expect(explainPlan(step.plan)).toContain("the specialized model is not used: on held-out frames its residual variance was 1.900 against the count's 2.000");
    expect(step.plan.considered.filter((c) => c.kind === 'alternative').map((a) => [a.description, a.chosen])).toEqual([
      ['32px count model', false],
      ['no model: plain stratified sampling', true],
    ]);
  });
});
