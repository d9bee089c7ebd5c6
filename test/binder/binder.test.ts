import { describe, expect, it } from 'vitest';
import {
  bindQuery,
  BoundAggregate,
  BoundFramePredicate,
  BoundPredicate,
  BoundValue,
  DEFAULT_CONFIDENCE,
  DEFAULT_FNR,
  DEFAULT_FPR,
  SELECT_ALL_COLUMNS,
  type AggregateQuery,
  type BoundAccuracy,
  type BoundQuery,
  type GroupedLimitQuery,
  type QueryShape,
  type SelectFramesQuery,
  type SelectRowsQuery,
} from '../../src/binder/index.js';
import { QueryError } from '../../src/errors.js';
import { parseQuery } from '../../src/language/index.js';
import { queryErrorProblem } from '../language/ast-helpers.js';
import { fakeContext, LABELS } from './fake-context.js';

function bind(query: string, context = fakeContext()): BoundQuery {
  return bindQuery(parseQuery(query), context);
}

function bindError(query: string): QueryError {
  try {
    bind(query);
  } catch (e) {
    const problem = queryErrorProblem(e, query);
    if (problem !== undefined) throw new Error(problem);
    return e as QueryError;
  }
  throw new Error(`bound without error: ${query}`);
}

const CAR = LABELS.indexOf('car');
const BUS = LABELS.indexOf('bus');
const PERSON = LABELS.indexOf('person');
const TRUCK = LABELS.indexOf('truck');
const { column, number } = BoundValue;
const { classMatch, compare } = BoundPredicate;

describe('bindQuery: query shapes', () => {
  it.each<[string, QueryShape]>([
    ["SELECT timestamp FROM traffic WHERE class = 'car'", 'select-frames'],
    ['SELECT frame, timestamp FROM traffic', 'select-frames'],
    ['SELECT timestamp * 1000 FROM traffic', 'select-frames'],
    ['SELECT timestamp, 1 FROM traffic', 'select-frames'],
    ['SELECT * FROM traffic', 'select-rows'],
    ["SELECT class, score FROM traffic WHERE class = 'car'", 'select-rows'],
    ['SELECT frame, area FROM traffic', 'select-rows'],
    ['SELECT 1 FROM traffic', 'select-rows'],
    ["SELECT FCOUNT(*) FROM traffic WHERE class = 'car'", 'aggregate'],
    ['SELECT COUNT(*), COUNT(DISTINCT frame), SUM(score), AVG(area), MIN(xmin), MAX(ymax) FROM traffic', 'aggregate'],
    ["SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 LIMIT 10 GAP 300", 'grouped-limit'],
    ['SELECT frame, COUNT(*) FROM traffic GROUP BY frame', 'grouped-limit'],
  ])('%s -> %s', (query, shape) => {
    expect(bind(query).shape).toBe(shape);
  });

  it('expands SELECT * to every supported column', () => {
    const q = bind('SELECT * FROM traffic') as SelectRowsQuery;
    expect(q.outputs.map((o) => o.name)).toEqual([...SELECT_ALL_COLUMNS]);
    expect(SELECT_ALL_COLUMNS).not.toContain('trackid');
    expect(q.outputs.find((o) => o.name === 'class')).toEqual({ kind: 'value', name: 'class', type: 'text', value: column('class') });
  });

  it('names outputs by their canonical text and types them', () => {
    const rows = bind('select frame, Score, xmax - xmin, class from traffic') as SelectRowsQuery;
    expect(rows.outputs.map((o) => [o.name, o.type])).toEqual([
      ['frame', 'integer'],
      ['Score', 'double'],
      ['xmax - xmin', 'double'],
      ['class', 'text'],
    ]);
    const agg = bind("select fcount(*), count(*), count(distinct timestamp), sum(class = 'car'), avg(score), min(frame) from traffic") as AggregateQuery;
    expect(agg.outputs.map((o) => [o.name, o.type, o.aggregate.fn])).toEqual([
      ['fcount(*)', 'double', 'fcount'],
      ['count(*)', 'integer', 'count'],
      ['count(DISTINCT timestamp)', 'integer', 'count-distinct-frames'],
      ["sum(class = 'car')", 'integer', 'sum'],
      ['avg(score)', 'double', 'avg'],
      ['min(frame)', 'integer', 'min'],
    ]);
    expect(agg.outputs[3].aggregate).toEqual(BoundAggregate.create('sum', BoundValue.indicator(classMatch([CAR]))));
    expect(agg.outputs[4].aggregate).toEqual(BoundAggregate.create('avg', column('score')));
  });
});

describe('bindQuery: the FRAMEQL.md queries', () => {
  it('binary selection', () => {
    const q = bind("SELECT timestamp FROM traffic WHERE class = 'car' FNR WITHIN 0.01 FPR WITHIN 0.02") as SelectFramesQuery;
    expect(q).toMatchObject({
      shape: 'select-frames',
      video: { name: 'traffic', path: '/data/road_polecam.mp4' },
      where: classMatch([CAR]),
      classIds: [CAR],
      classNames: ['car'],
      accuracy: { fnr: 0.01, fnrDefaulted: false, fpr: 0.02, fprDefaulted: false, precision: undefined, confidence: 0.95, confidenceDefaulted: true, error: undefined, budget: undefined },
      explain: 'none',
      limit: undefined,
      gap: undefined,
      orderBy: [],
      text: "SELECT timestamp FROM traffic WHERE class = 'car' FNR WITHIN 0.01 FPR WITHIN 0.02",
    });
    expect(q.outputs).toEqual([{ kind: 'value', name: 'timestamp', type: 'double', value: column('timestamp') }]);
  });

  it('frame-averaged count with an error bound', () => {
    const q = bind("SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 95%") as AggregateQuery;
    expect(q.shape).toBe('aggregate');
    expect(q.outputs).toEqual([{ kind: 'aggregate', name: 'FCOUNT(*)', type: 'double', aggregate: { fn: 'fcount', argument: undefined } }]);
    expect(q.accuracy).toEqual({
      fnr: 0.01,
      fnrDefaulted: true,
      fpr: 0.01,
      fprDefaulted: true,
      precision: undefined,
      confidence: 0.95,
      confidenceDefaulted: false,
      error: { within: 0.1, confidence: 0.95, confidenceDefaulted: false },
      budget: undefined,
    });
    expect(bind("SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 0.95").accuracy).toEqual(q.accuracy);
    expect(bind('SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1').accuracy.error).toEqual({ within: 0.1, confidence: 0.95, confidenceDefaulted: true });
  });

  it('rare-event limit query', () => {
    const q = bind("SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1 LIMIT 10 GAP 300") as GroupedLimitQuery;
    expect(q).toMatchObject({ shape: 'grouped-limit', groupBy: ['timestamp'], limit: 10, gap: 300, classIds: [CAR, BUS], classNames: ['car', 'bus'] });
    expect(q.where).toEqual(BoundPredicate.constant(true));
    expect(q.having).toEqual(
      BoundFramePredicate.and([BoundFramePredicate.countCompare(classMatch([CAR]), '>=', 3), BoundFramePredicate.countCompare(classMatch([BUS]), '>=', 1)]),
    );
  });

  it('content predicates with a time range', () => {
    const q = bind(`SELECT timestamp FROM traffic
      WHERE class = 'person' AND score >= 0.5 AND xmin > 320 AND area > 2000
        AND timestamp BETWEEN 60 AND 120`);
    expect(q.where).toEqual(
      BoundPredicate.and([
        classMatch([PERSON]),
        compare('>=', column('score'), number(0.5)),
        compare('>', column('xmin'), number(320)),
        compare('>', column('area'), number(2000)),
        BoundPredicate.between(column('timestamp'), number(60), number(120)),
      ]),
    );
    expect(q.bounds).toEqual({ frames: { min: 0, max: Infinity }, seconds: { min: 60, max: 120 }, empty: false });
  });
});

describe('bindQuery: accuracy clauses', () => {
  const accuracy = (query: string): BoundAccuracy => bind(query).accuracy;
  const DEFAULTS: BoundAccuracy = {
    fnr: DEFAULT_FNR,
    fnrDefaulted: true,
    fpr: DEFAULT_FPR,
    fprDefaulted: true,
    precision: undefined,
    confidence: DEFAULT_CONFIDENCE,
    confidenceDefaulted: true,
    error: undefined,
    budget: undefined,
  };

  it('defaults every bound when the query states none', () => {
    expect(accuracy("SELECT timestamp FROM traffic WHERE class = 'car'")).toEqual(DEFAULTS);
    expect(accuracy('SELECT FCOUNT(*) FROM traffic')).toEqual(DEFAULTS);
    expect(DEFAULT_CONFIDENCE).toBe(0.95);
  });

  it('binds the FRAMEQL.md query with a confidence and a budget', () => {
    expect(accuracy("SELECT timestamp FROM traffic WHERE class = 'bus' FNR WITHIN 0.01 FPR WITHIN 0.01 AT CONFIDENCE 95% BUDGET 2000")).toEqual({
      ...DEFAULTS,
      fnrDefaulted: false,
      fprDefaulted: false,
      confidence: 0.95,
      confidenceDefaulted: false,
      budget: 2000,
    });
  });

  it("binds AIDB's spelling: RECALL_TARGET r is FNR 1 - r, PRECISION_TARGET alone leaves FPR unbounded", () => {
    expect(accuracy("SELECT timestamp FROM traffic WHERE class = 'bus' RECALL_TARGET 99% PRECISION_TARGET 99% CONFIDENCE 95%")).toEqual({
      ...DEFAULTS,
      fnr: 0.01,
      fnrDefaulted: false,
      fpr: 1,
      fprDefaulted: true,
      precision: 0.99,
      confidence: 0.95,
      confidenceDefaulted: false,
    });
    // 1 - 0.99 is 0.010000000000000009 in doubles; the bound is the 0.01 the query means.
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 0.99').fnr).toBe(0.01);
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 99.9%').fnr).toBe(0.001);
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 0.7').fnr).toBe(0.3);
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 0.9').fprDefaulted).toBe(true);
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 0.9').fpr).toBe(DEFAULT_FPR);
  });

  it('applies both PRECISION_TARGET and FPR WITHIN when both are written', () => {
    expect(accuracy('SELECT timestamp FROM traffic PRECISION_TARGET 0.9 FPR WITHIN 2%')).toMatchObject({ fpr: 0.02, fprDefaulted: false, precision: 0.9 });
    expect(accuracy('SELECT timestamp FROM traffic FPR WITHIN 2% PRECISION_TARGET 0.9')).toMatchObject({ fpr: 0.02, fprDefaulted: false, precision: 0.9 });
  });

  it('takes one confidence from whichever target states it, the same value more than once', () => {
    expect(accuracy('SELECT timestamp FROM traffic FNR WITHIN 0.05 AT CONFIDENCE 0.9 FPR WITHIN 0.05')).toMatchObject({ confidence: 0.9, confidenceDefaulted: false });
    expect(accuracy('SELECT timestamp FROM traffic FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 0.9')).toMatchObject({ confidence: 0.9, confidenceDefaulted: false });
    expect(accuracy('SELECT timestamp FROM traffic RECALL_TARGET 90% CONFIDENCE 80% PRECISION_TARGET 90% CONFIDENCE 0.8')).toMatchObject({
      confidence: 0.8,
      confidenceDefaulted: false,
    });
    expect(accuracy('SELECT timestamp FROM traffic FNR WITHIN 0.05 AT CONFIDENCE 99% PRECISION_TARGET 0.5 CONFIDENCE 0.99').confidence).toBe(0.99);
  });

  it("gives ERROR WITHIN the query's confidence", () => {
    const a = accuracy('SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 90%');
    expect(a).toMatchObject({ confidence: 0.9, confidenceDefaulted: false, error: { within: 0.1, confidence: 0.9, confidenceDefaulted: false } });
    expect(accuracy('SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1')).toMatchObject({
      confidence: 0.95,
      confidenceDefaulted: true,
      error: { within: 0.1, confidence: 0.95, confidenceDefaulted: true },
    });
  });

  it('lets COUNT(DISTINCT frame) alone take the rate targets: it is answered as a presence query', () => {
    expect(accuracy("SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car' RECALL_TARGET 95% PRECISION_TARGET 0.9 CONFIDENCE 0.9 BUDGET 50")).toEqual({
      ...DEFAULTS,
      fnr: 0.05,
      fnrDefaulted: false,
      fpr: 1,
      precision: 0.9,
      confidence: 0.9,
      confidenceDefaulted: false,
      budget: 50,
    });
    expect(accuracy('SELECT COUNT(DISTINCT timestamp) FROM traffic FNR WITHIN 0.02 FPR WITHIN 0.03')).toMatchObject({ fnr: 0.02, fpr: 0.03 });
    expect(accuracy('SELECT COUNT(DISTINCT frame) FROM traffic ERROR WITHIN 5').error).toEqual({ within: 5, confidence: 0.95, confidenceDefaulted: true });
  });

  it.each([
    'SELECT * FROM traffic BUDGET 1',
    'SELECT timestamp FROM traffic BUDGET 10',
    'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 BUDGET 300',
    'SELECT COUNT(*), SUM(score) FROM traffic BUDGET 300',
    'SELECT timestamp FROM traffic GROUP BY timestamp HAVING COUNT(*) > 2 LIMIT 5 BUDGET 9007199254740991',
  ])('takes BUDGET on every shape: %s', (query) => {
    expect(accuracy(query).budget).toBe(Number(/BUDGET (\d+)/.exec(query)![1]));
  });

  it('keeps the clauses in any order', () => {
    const a = accuracy('SELECT timestamp FROM traffic BUDGET 7 FPR WITHIN 0.2 AT CONFIDENCE 0.9 RECALL_TARGET 0.75');
    expect(a).toEqual({ ...DEFAULTS, fnr: 0.25, fnrDefaulted: false, fpr: 0.2, fprDefaulted: false, confidence: 0.9, confidenceDefaulted: false, budget: 7 });
    expect(Object.isFrozen(a)).toBe(true);
  });
});

describe('bindQuery: details', () => {
  it('resolves classes case-insensitively and with spaces', () => {
    expect(bind("SELECT * FROM traffic WHERE class = 'Car'").where).toEqual(classMatch([CAR]));
    expect(bind("SELECT * FROM traffic WHERE class = 'traffic light'").classNames).toEqual(['traffic light']);
  });

  it('binds class tests: =, !=, IN, NOT IN, either side', () => {
    expect(bind("SELECT * FROM traffic WHERE 'car' = class").where).toEqual(classMatch([CAR]));
    expect(bind("SELECT * FROM traffic WHERE class <> 'car'").where).toEqual(classMatch([CAR], true));
    expect(bind("SELECT * FROM traffic WHERE class IN ('truck', 'car', 'car')").where).toEqual(classMatch([CAR, TRUCK]));
    expect(bind("SELECT * FROM traffic WHERE class NOT IN ('bus')").where).toEqual(classMatch([BUS], true));
  });

  it('folds constants and puts a lone constant on the right', () => {
    expect(bind('SELECT * FROM traffic WHERE frame > 10 * 30').where).toEqual(compare('>', column('frame'), number(300)));
    expect(bind('SELECT * FROM traffic WHERE 300 <= frame').where).toEqual(compare('>=', column('frame'), number(300)));
    expect(bind('SELECT * FROM traffic WHERE score > -(-0.5)').where).toEqual(compare('>', column('score'), number(0.5)));
    expect(bind('SELECT * FROM traffic WHERE 1 = 1').where).toEqual(BoundPredicate.constant(true));
    expect(bind('SELECT * FROM traffic WHERE 2 BETWEEN 3 AND 4').where).toEqual(BoundPredicate.constant(false));
    expect(bind('SELECT * FROM traffic WHERE score > 1 / 0').where).toEqual(compare('>', column('score'), BoundValue.arithmetic('/', number(1), number(0))));
  });

  it('binds NOT, OR, NOT BETWEEN and numeric IN', () => {
    expect(bind("SELECT * FROM traffic WHERE NOT (class = 'car' OR frame NOT BETWEEN 1 AND 5) AND frame IN (1, 2)").where).toEqual(
      BoundPredicate.and([
        BoundPredicate.not(BoundPredicate.or([classMatch([CAR]), BoundPredicate.between(column('frame'), number(1), number(5), true)])),
        BoundPredicate.inList(column('frame'), [number(1), number(2)]),
      ]),
    );
  });

  it('resolves videos by name, by differently-cased name and by path', () => {
    const context = fakeContext();
    expect(bind('SELECT * FROM traffic', context).video).toEqual({ name: 'traffic', path: '/data/road_polecam.mp4' });
    expect(bind('SELECT * FROM TRAFFIC', context).video).toEqual({ name: 'traffic', path: '/data/road_polecam.mp4' });
    expect(bind('SELECT * FROM "campus"', context).video.name).toBe('campus');
    expect(bind("SELECT * FROM 'videos/a b.mp4'", context).video).toEqual({ name: 'videos/a b.mp4', path: 'videos/a b.mp4' });
    expect(context.lookups).toContainEqual({ kind: 'path', path: 'videos/a b.mp4' });
  });

  it('records EXPLAIN and EXPLAIN ANALYZE and keeps the text without them', () => {
    expect(bind('SELECT * FROM traffic').explain).toBe('none');
    expect(bind('EXPLAIN SELECT * FROM traffic').explain).toBe('plan');
    const q = bind('explain analyze select * from traffic');
    expect(q.explain).toBe('analyze');
    expect(q.text).toBe('SELECT * FROM traffic');
    expect(q.statement.kind).toBe('explain');
  });

  it('binds ORDER BY, including output positions', () => {
    const q = bind('SELECT frame, score FROM traffic ORDER BY score DESC, 1, class');
    expect(q.orderBy).toEqual([
      { value: column('score'), type: 'double', direction: 'desc' },
      { value: column('frame'), type: 'integer', direction: 'asc' },
      { value: column('class'), type: 'text', direction: 'asc' },
    ]);
    expect(bind('SELECT timestamp FROM traffic ORDER BY timestamp DESC').orderBy).toEqual([{ value: column('timestamp'), type: 'double', direction: 'desc' }]);
  });

  it('binds LIMIT 0 and GAP 0', () => {
    expect(bind('SELECT timestamp FROM traffic LIMIT 0 GAP 0')).toMatchObject({ limit: 0, gap: 0 });
  });

  it('binds HAVING forms: flipped comparisons, COUNT(*), BETWEEN, NOT, OR', () => {
    const having = (h: string): unknown => (bind(`SELECT timestamp FROM traffic GROUP BY timestamp HAVING ${h}`) as GroupedLimitQuery).having;
    const cars = classMatch([CAR]);
    expect(having("3 <= SUM(class = 'car')")).toEqual(BoundFramePredicate.countCompare(cars, '>=', 3));
    expect(having('COUNT(*) > 5')).toEqual(BoundFramePredicate.countCompare(BoundPredicate.constant(true), '>', 5));
    expect(having("SUM(class = 'car') BETWEEN 2 AND 4")).toEqual(
      BoundFramePredicate.and([BoundFramePredicate.countCompare(cars, '>=', 2), BoundFramePredicate.countCompare(cars, '<=', 4)]),
    );
    expect(having("SUM(class = 'car') NOT BETWEEN 2 AND 4")).toEqual(
      BoundFramePredicate.or([BoundFramePredicate.countCompare(cars, '<', 2), BoundFramePredicate.countCompare(cars, '>', 4)]),
    );
    expect(having("NOT SUM(class = 'car' AND score > 0.5) = 0 OR COUNT(*) >= 2 * 5")).toEqual(
      BoundFramePredicate.or([
        BoundFramePredicate.not(BoundFramePredicate.countCompare(BoundPredicate.and([cars, compare('>', column('score'), number(0.5))]), '=', 0)),
        BoundFramePredicate.countCompare(BoundPredicate.constant(true), '>=', 10),
      ]),
    );
    expect((bind('SELECT timestamp FROM traffic GROUP BY timestamp LIMIT 3') as GroupedLimitQuery).having).toEqual(
      BoundFramePredicate.countCompare(BoundPredicate.constant(true), '>=', 1),
    );
  });

  it('collects class ids from WHERE, HAVING and aggregates', () => {
    const q = bind("SELECT SUM(class = 'truck') FROM traffic WHERE class IN ('bus', 'car') AND class != 'person'");
    expect(q.classIds).toEqual([PERSON, CAR, BUS, TRUCK].sort((a, b) => a - b));
    expect(q.classNames).toEqual(q.classIds.map((i) => LABELS[i]));
  });

  it('returns a frozen query', () => {
    const q = bind("SELECT * FROM traffic WHERE class = 'car' ORDER BY score LIMIT 3");
    expect(Object.isFrozen(q)).toBe(true);
    expect(Object.isFrozen(q.where)).toBe(true);
    expect(Object.isFrozen(q.accuracy)).toBe(true);
    expect(Object.isFrozen(q.orderBy)).toBe(true);
    expect(Object.isFrozen(q.bounds)).toBe(true);
  });
});

describe('bindQuery errors', () => {
  interface Case {
    query: string;
    code: string;
    column: number;
    suggestions?: string[];
  }
  const cases: Case[] = [
    { query: "SELECT * FROM traffic WHERE class = 'cra'", code: 'UNKNOWN_CLASS', column: 37, suggestions: ['car'] },
    { query: "SELECT * FROM traffic WHERE class IN ('car', 'buss')", code: 'UNKNOWN_CLASS', column: 46, suggestions: ['bus'] },
    { query: "SELECT * FROM traffic WHERE class = 'hydrant'", code: 'UNKNOWN_CLASS', column: 37, suggestions: ['fire hydrant'] },
    { query: "SELECT * FROM traffic WHERE class = 'xyzzy'", code: 'UNKNOWN_CLASS', column: 37, suggestions: [] },
    { query: 'SELECT * FROM trafic', code: 'UNKNOWN_VIDEO', column: 15, suggestions: ['traffic'] },
    { query: 'SELECT * FROM nowhere', code: 'UNKNOWN_VIDEO', column: 15, suggestions: [] },
    { query: "SELECT * FROM 'notes.txt'", code: 'UNKNOWN_VIDEO', column: 15 },
    { query: 'SELECT * FROM traffic WHERE scroe > 0.5', code: 'UNKNOWN_COLUMN', column: 29, suggestions: ['score'] },
    { query: 'SELECT timestmp FROM traffic', code: 'UNKNOWN_COLUMN', column: 8, suggestions: ['timestamp'] },
    { query: 'SELECT * FROM traffic WHERE car', code: 'UNKNOWN_COLUMN', column: 29, suggestions: ["class = 'car'"] },
    { query: 'SELECT * FROM traffic WHERE class = "car"', code: 'UNKNOWN_COLUMN', column: 37, suggestions: ["'car'"] },
    { query: 'SELECT FCONT(*) FROM traffic', code: 'UNKNOWN_FUNCTION', column: 8, suggestions: ['FCOUNT'] },
    { query: 'SELECT * FROM traffic WHERE abs(score) > 1', code: 'UNKNOWN_FUNCTION', column: 29 },
    { query: 'SELECT * FROM traffic WHERE class = 2', code: 'TYPE_MISMATCH', column: 37 },
    { query: "SELECT * FROM traffic WHERE score > 'high'", code: 'TYPE_MISMATCH', column: 37 },
    { query: "SELECT * FROM traffic WHERE class > 'car'", code: 'TYPE_MISMATCH', column: 35 },
    { query: "SELECT * FROM traffic WHERE 'car' = 'car'", code: 'TYPE_MISMATCH', column: 29 },
    { query: 'SELECT * FROM traffic WHERE class = class', code: 'TYPE_MISMATCH', column: 29 },
    { query: 'SELECT * FROM traffic WHERE score', code: 'TYPE_MISMATCH', column: 29 },
    { query: "SELECT * FROM traffic WHERE 'car'", code: 'TYPE_MISMATCH', column: 29 },
    { query: 'SELECT * FROM traffic WHERE score > 0.5 AND frame', code: 'TYPE_MISMATCH', column: 45 },
    { query: 'SELECT * FROM traffic WHERE class + 1 > 2', code: 'TYPE_MISMATCH', column: 29 },
    { query: 'SELECT * FROM traffic WHERE (score > 1) = 1', code: 'TYPE_MISMATCH', column: 30 },
    { query: "SELECT * FROM traffic WHERE class BETWEEN 'a' AND 'b'", code: 'TYPE_MISMATCH', column: 29 },
    { query: "SELECT * FROM traffic WHERE class IN ('car', 3)", code: 'TYPE_MISMATCH', column: 46 },
    { query: "SELECT * FROM traffic WHERE frame IN (1, 'a')", code: 'TYPE_MISMATCH', column: 42 },
    { query: "SELECT * FROM traffic WHERE timestamp > '00:01:00'", code: 'TYPE_MISMATCH', column: 41 },
    { query: 'SELECT MIN(class) FROM traffic', code: 'TYPE_MISMATCH', column: 12 },
    { query: "SELECT timestamp FROM traffic WHERE class = 'car' GAP 300", code: 'INVALID_CLAUSE', column: 51 },
    { query: 'SELECT * FROM traffic LIMIT 5 GAP 3', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT FCOUNT(*) FROM traffic LIMIT 5 GAP 3', code: 'INVALID_CLAUSE', column: 39 },
    { query: 'SELECT timestamp FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 95%', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT * FROM traffic ERROR WITHIN 0.1', code: 'INVALID_CLAUSE', column: 23 },
    { query: 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0', code: 'INVALID_CLAUSE', column: 44 },
    { query: 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 95', code: 'INVALID_CLAUSE', column: 62 },
    { query: 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 100%', code: 'INVALID_CLAUSE', column: 62 },
    { query: 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 0', code: 'INVALID_CLAUSE', column: 62 },
    { query: 'SELECT FCOUNT(*) FROM traffic FNR WITHIN 0.1', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 0', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 1', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FPR WITHIN 1.5', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FPR WITHIN -0.1', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 0.1 FNR WITHIN 0.2', code: 'INVALID_CLAUSE', column: 46 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 0.1 RECALL_TARGET 0.9', code: 'INVALID_CLAUSE', column: 46 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 0.9 FPR WITHIN 0.1 FNR WITHIN 0.1', code: 'INVALID_CLAUSE', column: 64 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 0.9 RECALL_TARGET 0.8', code: 'INVALID_CLAUSE', column: 49 },
    { query: 'SELECT timestamp FROM traffic PRECISION_TARGET 0.9 PRECISION_TARGET 0.9', code: 'INVALID_CLAUSE', column: 52 },
    { query: 'SELECT timestamp FROM traffic BUDGET 5 BUDGET 5', code: 'INVALID_CLAUSE', column: 40 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 1', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 0', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 99', code: 'INVALID_CLAUSE', column: 31, suggestions: ['RECALL_TARGET 99%'] },
    { query: 'SELECT timestamp FROM traffic PRECISION_TARGET 100%', code: 'INVALID_CLAUSE', column: 31, suggestions: [] },
    { query: 'SELECT timestamp FROM traffic PRECISION_TARGET -0.5', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 5', code: 'INVALID_CLAUSE', column: 31, suggestions: ['FNR WITHIN 5%'] },
    { query: 'SELECT FCOUNT(*) FROM traffic RECALL_TARGET 0.9', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT FCOUNT(*) FROM traffic PRECISION_TARGET 0.9 CONFIDENCE 0.9', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT COUNT(DISTINCT frame), COUNT(*) FROM traffic FNR WITHIN 0.1', code: 'INVALID_CLAUSE', column: 53 },
    { query: 'SELECT COUNT(*) FROM traffic FPR WITHIN 0.1', code: 'INVALID_CLAUSE', column: 30 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 0.1 AT CONFIDENCE 0.9 FPR WITHIN 0.1 AT CONFIDENCE 0.95', code: 'INVALID_CLAUSE', column: 93 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 0.9 CONFIDENCE 90% PRECISION_TARGET 0.9 CONFIDENCE 95%', code: 'INVALID_CLAUSE', column: 96 },
    { query: 'SELECT COUNT(DISTINCT frame) FROM traffic ERROR WITHIN 5 AT CONFIDENCE 0.9 RECALL_TARGET 0.9 CONFIDENCE 0.8', code: 'INVALID_CLAUSE', column: 105 },
    { query: 'SELECT timestamp FROM traffic FNR WITHIN 0.1 AT CONFIDENCE 1', code: 'INVALID_CLAUSE', column: 60 },
    { query: 'SELECT timestamp FROM traffic RECALL_TARGET 0.9 CONFIDENCE 95', code: 'INVALID_CLAUSE', column: 60, suggestions: ['95%'] },
    { query: 'SELECT timestamp FROM traffic BUDGET 0', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic BUDGET -3', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic BUDGET 2.5', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic BUDGET 1e300', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic BUDGET 9007199254740992', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic LIMIT -1', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic LIMIT 2.5', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic LIMIT 1e300', code: 'INVALID_CLAUSE', column: 31 },
    { query: 'SELECT timestamp FROM traffic LIMIT 5 GAP -1', code: 'INVALID_CLAUSE', column: 39 },
    { query: 'SELECT timestamp FROM traffic HAVING COUNT(*) > 1', code: 'INVALID_CLAUSE', column: 38 },
    { query: 'SELECT timestamp, FCOUNT(*) FROM traffic', code: 'INVALID_CLAUSE', column: 8 },
    { query: 'SELECT COUNT(*) FROM traffic WHERE COUNT(*) > 1', code: 'INVALID_CLAUSE', column: 36 },
    { query: 'SELECT SUM(COUNT(*)) FROM traffic', code: 'INVALID_CLAUSE', column: 12 },
    { query: 'SELECT FCOUNT(score) FROM traffic', code: 'INVALID_CLAUSE', column: 8 },
    { query: "SELECT COUNT(class = 'car') FROM traffic", code: 'INVALID_CLAUSE', column: 14 },
    { query: 'SELECT SUM(score, area) FROM traffic', code: 'INVALID_CLAUSE', column: 8 },
    { query: 'SELECT COUNT(*) FROM traffic ORDER BY frame', code: 'INVALID_CLAUSE', column: 39 },
    { query: 'SELECT timestamp FROM traffic ORDER BY score', code: 'INVALID_CLAUSE', column: 40 },
    { query: 'SELECT frame FROM traffic ORDER BY 2', code: 'INVALID_CLAUSE', column: 36 },
    { query: 'SELECT frame, COUNT(*) FROM traffic GROUP BY frame ORDER BY 2', code: 'UNSUPPORTED', column: 61 },
    { query: 'SELECT score FROM traffic WHERE class(1) = 1', code: 'UNKNOWN_FUNCTION', column: 33 },
    { query: 'SELECT * FROM traffic GROUP BY timestamp', code: 'INVALID_CLAUSE', column: 8 },
    { query: 'SELECT score FROM traffic GROUP BY timestamp', code: 'INVALID_CLAUSE', column: 8 },
    { query: 'SELECT FCOUNT(*) FROM traffic GROUP BY frame', code: 'INVALID_CLAUSE', column: 8 },
    { query: "SELECT 'car' FROM traffic", code: 'INVALID_CLAUSE', column: 8 },
    { query: 'SELECT trackid FROM traffic', code: 'UNSUPPORTED', column: 8 },
    { query: 'SELECT * FROM traffic WHERE trackid = 3', code: 'UNSUPPORTED', column: 29 },
    { query: 'SELECT class FROM traffic GROUP BY class', code: 'UNSUPPORTED', column: 36 },
    { query: 'SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(score) > 1', code: 'UNSUPPORTED', column: 57 },
    { query: 'SELECT timestamp FROM traffic GROUP BY timestamp HAVING timestamp > 1', code: 'UNSUPPORTED', column: 57 },
    { query: "SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') > COUNT(*)", code: 'UNSUPPORTED', column: 78 },
    { query: 'SELECT COUNT(DISTINCT class) FROM traffic', code: 'UNSUPPORTED', column: 23 },
    { query: 'SELECT FCOUNT(*) * 2 FROM traffic', code: 'UNSUPPORTED', column: 8 },
    { query: 'SELECT score > 0.5 FROM traffic', code: 'UNSUPPORTED', column: 8 },
  ];

  it.each(cases)('$query -> $code at column $column', (c) => {
    const e = bindError(c.query);
    expect(e.code).toBe(c.code);
    expect(e.position).toMatchObject({ line: 1, column: c.column });
    if (c.suggestions !== undefined) expect(e.suggestions).toEqual(c.suggestions);
  });

  it('says what is wrong and what to do', () => {
    expect(bindError("SELECT * FROM traffic WHERE class = 'cra'").message).toMatchInlineSnapshot(`"line 1, column 37: unknown class 'cra' — did you mean 'car'?"`);
    expect(bindError('SELECT * FROM trafic').message).toMatchInlineSnapshot(`"line 1, column 15: unknown video 'trafic' — did you mean 'traffic'?"`);
    expect(bindError('SELECT * FROM nowhere').message).toMatchInlineSnapshot(
      `"line 1, column 15: unknown video 'nowhere'; register it in the catalog, bind it with --video nowhere=path/to/file.mp4, or read a file with FROM 'path/to/file.mp4'"`,
    );
    expect(bindError('SELECT * FROM traffic WHERE scroe > 0.5').message).toMatchInlineSnapshot(`"line 1, column 29: unknown column 'scroe' — did you mean 'score'?"`);
    expect(bindError('SELECT FCONT(*) FROM traffic').message).toMatchInlineSnapshot(`"line 1, column 8: unknown function 'FCONT' — did you mean 'FCOUNT'?"`);
    expect(bindError('SELECT * FROM traffic WHERE class = 2').message).toMatchInlineSnapshot(
      `"line 1, column 37: class is text: compare it with a class name in single quotes, e.g. class = 'car', not the number 2"`,
    );
    expect(bindError('SELECT timestamp FROM traffic GAP 300').message).toMatchInlineSnapshot(
      `"line 1, column 31: GAP needs LIMIT: LIMIT k GAP g returns k frames at least g frames apart"`,
    );
    expect(bindError('SELECT timestamp FROM traffic ERROR WITHIN 0.1').message).toMatchInlineSnapshot(
      `"line 1, column 31: ERROR WITHIN bounds the error of an aggregate such as FCOUNT(*); this query selects frames or rows — use FNR WITHIN / FPR WITHIN"`,
    );
    expect(bindError('SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 95').message).toMatchInlineSnapshot(
      `"line 1, column 62: confidence must be between 0 and 1: write 95% or 0.95; found 95 — did you mean 95%?"`,
    );
    expect(bindError('SELECT timestamp FROM traffic FNR WITHIN 0.1 AT CONFIDENCE 0.9 FPR WITHIN 0.1 AT CONFIDENCE 0.95').message).toMatchInlineSnapshot(
      `"line 1, column 93: one confidence per query: 0.95 here, but 0.9 at line 1, column 60; every bound of a query holds at the same confidence, so state it once"`,
    );
    expect(bindError('SELECT timestamp FROM traffic FNR WITHIN 1% RECALL_TARGET 99%').message).toMatchInlineSnapshot(
      `"line 1, column 45: RECALL_TARGET and FNR WITHIN both bound the false-negative rate (recall = 1 - FNR); write one of them"`,
    );
    expect(bindError('SELECT timestamp FROM traffic RECALL_TARGET 99').message).toMatchInlineSnapshot(
      `"line 1, column 31: RECALL_TARGET must be between 0 and 1 (exclusive), e.g. 0.99 or 99%; found 99 — did you mean RECALL_TARGET 99%?"`,
    );
    expect(bindError('SELECT timestamp FROM traffic BUDGET 0').message).toMatchInlineSnapshot(
      `"line 1, column 31: BUDGET must be a whole number of reference-detector calls, 1 or more; found 0"`,
    );
    expect(bindError('SELECT timestamp FROM traffic BUDGET 5 BUDGET 6').message).toMatchInlineSnapshot(`"line 1, column 40: BUDGET is given twice"`);
    expect(bindError('SELECT FCOUNT(*) FROM traffic RECALL_TARGET 99%').message).toMatchInlineSnapshot(
      `"line 1, column 31: RECALL_TARGET applies to queries that select frames (and to COUNT(DISTINCT frame)); bound an aggregate with ERROR WITHIN e AT CONFIDENCE p%"`,
    );
    expect(bindError('SELECT timestamp, FCOUNT(*) FROM traffic').message).toMatchInlineSnapshot(
      `"line 1, column 8: cannot mix aggregates and plain columns without GROUP BY: timestamp is not an aggregate, FCOUNT(*) is"`,
    );
    expect(bindError('SELECT * FROM traffic WHERE trackid = 3').message).toMatchInlineSnapshot(
      `"line 1, column 29: column trackid: tracking is not implemented yet"`,
    );
    expect(bindError("SELECT COUNT(class = 'car') FROM traffic").message).toMatchInlineSnapshot(
      `"line 1, column 14: COUNT(class = 'car') would count every object; write SUM(class = 'car') to count the objects where it holds"`,
    );
  });

  it('reports errors on later lines with their line', () => {
    const e = bindError("SELECT timestamp\nFROM traffic\nWHERE score > 0.5\n  AND class = 'buss'");
    expect(e.position).toMatchObject({ line: 4, column: 15 });
    expect(e.found).toBe('buss');
  });
});
