/**
 * The LIMIT search's parts on known inputs: the proxy's probabilities from class counts, the
 * ranked search against a known truth (every returned frame true, GAP kept, the exact answer
 * where fewer than k exist, fewer checks the better the ranking), and the rule that plans it.
 */
import { describe, expect, it } from 'vitest';
import { bindQuery, type BoundQuery } from '../../src/binder/index.js';
import { parseQuery } from '../../src/language/index.js';
import { optimize } from '../../src/optimizer/optimizer.js';
import type { OptimizerInput } from '../../src/optimizer/optimizer-input.js';
import { explainPlan } from '../../src/plan/explain.js';
import { buildLogicalPlan } from '../../src/plan/logical-node.js';
import { inputOf, type PhysicalNode } from '../../src/plan/physical-node.js';
import { indexSample } from '../../src/video-index/index-sample.js';
import { correctCounts } from '../../src/video-index/count-correction.js';
import { classesOf, poissonCompare, queryProxy } from '../../src/video-index/proxy-score.js';
import { batchSize, rankedSearch } from '../../src/video-index/ranked-search.js';
import { fakeContext, LABELS } from '../binder/fake-context.js';

const PERSON = LABELS.indexOf('person');
const CAR = LABELS.indexOf('car');
const BUS = LABELS.indexOf('bus');

function bound(sql: string): BoundQuery {
  return bindQuery(parseQuery(sql), fakeContext());
}

describe('the proxy', () => {
  it('poissonCompare: tails and points of a Poisson count', () => {
    expect(poissonCompare(0, '>=', 1)).toBe(0);
    expect(poissonCompare(2, '>=', 0)).toBe(1);
    expect(poissonCompare(1, '>=', 1)).toBeCloseTo(1 - Math.exp(-1), 12);
    expect(poissonCompare(2, '=', 1)).toBeCloseTo(2 * Math.exp(-2), 12);
    expect(poissonCompare(2, '>', 1)).toBeCloseTo(1 - 3 * Math.exp(-2), 12);
    expect(poissonCompare(2, '<=', 1)).toBeCloseTo(3 * Math.exp(-2), 12);
    expect(poissonCompare(2, '<', 1)).toBeCloseTo(Math.exp(-2), 12);
    expect(poissonCompare(2, '!=', 1)).toBeCloseTo(1 - 2 * Math.exp(-2), 12);
    // Monotone in the mean for an upper tail: more expected objects, likelier.
    expect(poissonCompare(4, '>=', 3)).toBeGreaterThan(poissonCompare(2, '>=', 3));
  });

  it('correctCounts: the residual at the labelled frames on either side, interpolated; the reference count on labelled frames; never below 0', () => {
    const model = [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
    const labelled = [
      { frame: 12, count: 6 },
      { frame: 16, count: 2 },
      { frame: 30, count: 0 },
    ];
    // Frames 10..20; residuals +4 at 12, 0 at 16, -2 at 30.
    const out = correctCounts(model, 10, labelled, () => 2);
    expect(Array.from(out)).toEqual([6, 6, 6, 5, 4, 3, 2, 2 - 2 / 14, 2 - 4 / 14, 2 - 6 / 14, 2 - 8 / 14].map((x) => Math.fround(x)));
    expect(Array.from(correctCounts([1, 1], 0, [], () => 1))).toEqual([1, 1]);
    expect(Array.from(correctCounts([1, 1], 0, [{ frame: 0, count: 0 }], () => 3))).toEqual([0, 0]);
  });

  it('classesOf: the classes an object predicate restricts to', () => {
    const where = (sql: string) => bound(`SELECT timestamp FROM traffic WHERE ${sql}`).where;
    expect(classesOf(where("class = 'car' AND score > 0.5"))).toEqual([CAR]);
    expect(classesOf(where("class IN ('car', 'bus')"))).toEqual([CAR, BUS].sort((a, b) => a - b));
    expect(classesOf(where("class = 'car' OR class = 'bus'"))).toEqual([CAR, BUS].sort((a, b) => a - b));
    expect(classesOf(where("class = 'car' OR score > 0.9"))).toBeUndefined();
    expect(classesOf(where("class != 'car'"))).toBeUndefined();
  });

  it('a grouped LIMIT: the product of its clauses, the classes it reads, none where no class is named', () => {
    const q = bound("SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1 LIMIT 10 GAP 300");
    const proxy = queryProxy(q)!;
    expect(proxy.classIds).toEqual([CAR, BUS].sort((a, b) => a - b));
    const counts = new Map([
      [CAR, [0, 4, 4]],
      [BUS, [1, 0, 2]],
    ]);
    expect(proxy.probability(counts, 0)).toBe(0);
    expect(proxy.probability(counts, 1)).toBe(0);
    expect(proxy.probability(counts, 2)).toBeCloseTo(poissonCompare(4, '>=', 3) * poissonCompare(2, '>=', 1), 12);
    expect(queryProxy(bound('SELECT timestamp FROM traffic GROUP BY timestamp HAVING COUNT(*) >= 3 LIMIT 2'))).toBeUndefined();
    const frames = queryProxy(bound("SELECT timestamp FROM traffic WHERE class = 'person' LIMIT 5"))!;
    expect(frames.classIds).toEqual([PERSON]);
    expect(frames.probability(new Map([[PERSON, [0.5]]]), 0)).toBeCloseTo(1 - Math.exp(-0.5), 12);
  });
});

/** A truth of n frames, a ranking of it, and a verifier that counts its calls. */
function world(truth: boolean[], scores: number[], known = new Map<number, boolean>()) {
  const checked: number[] = [];
  return {
    checked,
    input: (k: number, gap: number, start = 0) => ({
      start,
      end: start + truth.length,
      k,
      gap,
      scores,
      known,
      verify: async (frames: Int32Array) => {
        for (let i = 1; i < frames.length; i++) expect(frames[i]).toBeGreaterThan(frames[i - 1]!);
        checked.push(...frames);
        return new Map(Array.from(frames, (f) => [f, truth[f - start]!] as const));
      },
    }),
  };
}

describe('rankedSearch', () => {
  const n = 2000;
  // Positives in 12 short runs; a proxy that ranks them well (with noise), or not at all.
  const truth = Array.from({ length: n }, (_, i) => i % 160 < 6);
  const good = truth.map((t, i) => (t ? 0.6 : 0.3) + 0.3 * Math.sin(i * 7.1));
  const flat = truth.map(() => 0.5);

  it('returns k verified frames a gap apart, checking few with a good ranking', async () => {
    const w = world(truth, good);
    const r = await rankedSearch(w.input(10, 100));
    expect(r.frames).toHaveLength(10);
    for (const f of r.frames) expect(truth[f]).toBe(true);
    for (let i = 1; i < r.frames.length; i++) expect(r.frames[i]! - r.frames[i - 1]!).toBeGreaterThanOrEqual(100);
    expect(new Set(w.checked).size).toBe(w.checked.length);
    expect(r.verified).toBe(w.checked.length);
    expect(r.exhausted).toBe(false);
    // The exact scan reaches its 10th gapped hit at frame 9 * 160; the search checks a small share of that.
    expect(r.verified).toBeLessThan(0.2 * (9 * 160 + 1));
    const blind = world(truth, flat);
    const b = await rankedSearch(blind.input(10, 100));
    expect(b.frames).toHaveLength(10);
    expect(b.verified).toBeGreaterThan(r.verified);
  });

  it('frames known before cost nothing and are taken first', async () => {
    const known = new Map<number, boolean>([
      [0, true],
      [50, true],
      [160, true],
      [7, false],
    ]);
    const w = world(truth, good, known);
    const r = await rankedSearch(w.input(3, 100));
    expect(r.frames.slice(0, 2)).toEqual([0, 160]);
    expect(w.checked).not.toContain(7);
    expect(w.checked).not.toContain(50);
    expect(r.frames).toHaveLength(3);
  });

  it('where fewer than k exist: every frame checked, and the exact answer (the most frames a gap apart, in frame order)', async () => {
    const sparse = Array.from({ length: 600 }, (_, i) => i === 10 || i === 60 || i === 250 || i === 400);
    const w = world(sparse, sparse.map((t, i) => (t ? 1 : 0) + (i === 60 ? 2 : 0)), new Map());
    const r = await rankedSearch(w.input(5, 100, 1000));
    expect(r.exhausted).toBe(true);
    // Rank order would take 1060 first and block 1010; frame order gives 1010, 1250, 1400.
    expect(r.frames).toEqual([1010, 1250, 1400]);
    expect(new Set(w.checked).size).toBe(600);
  });

  it('where hits are scarce, batches grow by half at each step: a few reads of the video, not one per 256 frames', async () => {
    expect(batchSize(10, 0.001, 0)).toBe(256);
    expect(batchSize(10, 0.001, 1000)).toBe(500);
    expect(batchSize(10, 0.5, 4000)).toBe(40);
    const none = Array.from({ length: 6000 }, (_, i) => i === 5999);
    const w = world(none, none.map((_, i) => Math.sin(i)), new Map());
    const r = await rankedSearch(w.input(3, 1));
    expect(r.exhausted).toBe(true);
    expect(r.frames).toEqual([5999]);
    expect(new Set(w.checked).size).toBe(6000);
    // 256, 256, 256, 384, 576, 864, 1296, 1944, then the rest: 10 reads where fixed 256-frame batches took 24.
    expect(r.batches).toBeLessThanOrEqual(10);
  });

  it('no GAP: distinct frames, stopping at k', async () => {
    const w = world(truth, good);
    const r = await rankedSearch(w.input(4, 1));
    expect(r.frames).toHaveLength(4);
    for (const f of r.frames) expect(truth[f]).toBe(true);
  });
});

describe('the LIMIT search rule', () => {
  const N = 4560;
  const input = (sql: string, over: Partial<OptimizerInput> = {}): OptimizerInput => {
    const query = bound(sql);
    return {
      query,
      logical: buildLogicalPlan(query, '(where)'),
      video: { name: 'traffic', path: '/data/long.mp4' },
      referenceModel: 'yolo11n_int8dyn_640',
      range: { start: 0, end: N },
      labelled: 0,
      costs: { reference: 0.06, decode: 0.0004, specialized: 0.0002, trainPerImageEpoch: 0.0008, epochs: 12, uncertainShare: 0.15, countVarianceRatio: 0.5, assumed: [] },
      referenceDetectorSeconds: 0.05,
      exact: false,
      stored: undefined,
      measured: {},
      index: { frames: N, classIds: [], sampleLabelled: 0, labels: LABELS },
      ...over,
    };
  };
  const kinds = (node: PhysicalNode | undefined): string[] => {
    const out: string[] = [];
    for (let n = node; n; n = inputOf(n)) out.push(n.kind);
    return out;
  };
  const GROUPED = "SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1 LIMIT 10 GAP 300";

  it('plans Answer <- LimitSearch <- IndexScan, and EXPLAIN says what the index holds and what it adds', () => {
    const step = optimize(input(GROUPED, { index: { frames: N, classIds: [CAR], sampleLabelled: 100, labels: LABELS } }));
    expect(kinds(step.plan)).toEqual(['Answer', 'LimitSearch', 'IndexScan']);
    const plan = explainPlan(step.plan);
    const sample = indexSample(N);
    expect(plan).toContain('from the index: count:car');
    expect(plan).toContain(`to add to the index: count:bus (label every ${sample.step}th frame of the video, ${sample.frames.length} frames, ${sample.frames.length - 100} not in the store`);
    expect(plan).toContain('LimitSearch LIMIT 10 GAP 300');
    const stored = explainPlan(optimize(input(GROUPED, { index: { frames: N, classIds: [CAR, BUS], sampleLabelled: 0, labels: LABELS } })).plan);
    expect(stored).not.toContain('to add');
  });

  it('not for ORDER BY, aggregates, unnamed classes, --exact, planner.search = false, or a range too short to pay for the index', () => {
    const exactKinds = ['Answer', 'ReferenceScan'];
    expect(kinds(optimize(input("SELECT frame FROM traffic WHERE class = 'car' ORDER BY frame DESC LIMIT 5")).plan)).not.toContain('LimitSearch');
    expect(kinds(optimize(input('SELECT timestamp FROM traffic GROUP BY timestamp HAVING COUNT(*) >= 3 LIMIT 2')).plan)).toEqual(exactKinds);
    expect(kinds(optimize(input(GROUPED, { exact: true })).plan)).toEqual(exactKinds);
    expect(kinds(optimize(input(GROUPED, { noSearch: true })).plan)).toEqual(exactKinds);
    // 500 frames in range, a 500-frame index sample to label: the scan in frame order answers.
    expect(kinds(optimize(input(GROUPED, { range: { start: 0, end: 500 } })).plan)).toEqual(exactKinds);
    // With the index's signals stored, a short range searches too (nothing to build).
    expect(kinds(optimize(input(GROUPED, { range: { start: 0, end: 500 }, index: { frames: N, classIds: [CAR, BUS], sampleLabelled: 0, labels: LABELS } })).plan)).toEqual(['Answer', 'LimitSearch', 'IndexScan']);
  });
});
