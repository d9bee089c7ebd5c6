import { describe, expect, it } from 'vitest';
import {
  bindQuery,
  columnValue,
  compileObjectPredicate,
  compileObjectValue,
  countMatching,
  deriveBoxMeasures,
  evaluateFramePredicate,
  evaluateObjectPredicate,
  evaluateObjectValue,
  type DetectionRow,
  type GroupedLimitQuery,
} from '../../src/binder/index.js';
import { parseQuery } from '../../src/language/index.js';
import { fakeContext, LABELS } from './fake-context.js';

const CAR = LABELS.indexOf('car');
const BUS = LABELS.indexOf('bus');
const PERSON = LABELS.indexOf('person');

function row(partial: Partial<DetectionRow>): DetectionRow {
  return { frame: 0, timestamp: 0, classId: CAR, score: 0.9, xmin: 10, ymin: 20, xmax: 110, ymax: 70, ...partial };
}

function where(text: string) {
  return bindQuery(parseQuery(`SELECT * FROM traffic WHERE ${text}`), fakeContext()).where;
}

describe('deriveBoxMeasures and columnValue', () => {
  it('derives width, height and area from the box', () => {
    expect(deriveBoxMeasures(row({}))).toEqual({ width: 100, height: 50, area: 5000 });
    const r = row({ frame: 7, timestamp: 0.28 });
    expect(['frame', 'timestamp', 'class', 'score', 'xmin', 'ymin', 'xmax', 'ymax', 'width', 'height', 'area'].map((c) => columnValue(r, c as never))).toEqual([
      7, 0.28, CAR, 0.9, 10, 20, 110, 70, 100, 50, 5000,
    ]);
  });
});

describe('evaluateObjectPredicate', () => {
  const rows: DetectionRow[] = [
    row({}),
    row({ classId: BUS, score: 0.4, frame: 30, timestamp: 1.2 }),
    row({ classId: PERSON, xmin: 400, xmax: 460, ymin: 0, ymax: 100, frame: 1800, timestamp: 72 }),
    row({ classId: PERSON, xmin: 400, xmax: 401, ymin: 0, ymax: 1, frame: 1801, timestamp: 72.04, score: 0.51 }),
  ];

  it.each<[string, boolean[]]>([
    ["class = 'car'", [true, false, false, false]],
    ["class != 'car'", [false, true, true, true]],
    ["class IN ('car', 'bus')", [true, true, false, false]],
    ["class NOT IN ('car', 'bus')", [false, false, true, true]],
    ['score >= 0.5', [true, false, true, true]],
    ['area > 2000', [true, true, true, false]],
    ['width * height = area', [true, true, true, true]],
    ['xmax - xmin < 50 OR -score < -0.85', [true, false, true, true]],
    ['NOT (score < 0.5)', [true, false, true, true]],
    ['timestamp BETWEEN 60 AND 120', [false, false, true, true]],
    ['frame NOT BETWEEN 1 AND 1800', [true, false, false, true]],
    ['frame IN (0, 1801)', [true, false, false, true]],
    ['frame NOT IN (0, 1801)', [false, true, true, false]],
    ["class = 'person' AND score >= 0.5 AND xmin > 320 AND area > 2000 AND timestamp BETWEEN 60 AND 120", [false, false, true, false]],
    ['1 = 1', [true, true, true, true]],
    ['frame / 0 > 1', [true, true, true, true].map((_, i) => i !== 0)],
  ])('%s', (text, expected) => {
    const predicate = where(text);
    const compiled = compileObjectPredicate(predicate);
    expect(rows.map((r) => evaluateObjectPredicate(predicate, r))).toEqual(expected);
    expect(rows.map(compiled)).toEqual(expected);
  });

  it('evaluates values, SUM indicators included, the same way compiled', () => {
    const rows = bindQuery(parseQuery('SELECT frame * 2 + 1, -score FROM traffic'), fakeContext());
    const sums = bindQuery(parseQuery("SELECT SUM(class = 'car') FROM traffic"), fakeContext());
    const [a, b] = rows.outputs;
    const [c] = sums.outputs;
    const r = row({ frame: 4 });
    expect(a.kind === 'value' && evaluateObjectValue(a.value, r)).toBe(9);
    expect(b.kind === 'value' && compileObjectValue(b.value)(r)).toBe(-0.9);
    expect(c.kind === 'aggregate' && evaluateObjectValue(c.aggregate.argument!, r)).toBe(1);
    expect(c.kind === 'aggregate' && compileObjectValue(c.aggregate.argument!)(row({ classId: BUS }))).toBe(0);
  });
});

describe('evaluateFramePredicate', () => {
  const having = (h: string) =>
    (bindQuery(parseQuery(`SELECT timestamp FROM traffic GROUP BY timestamp HAVING ${h}`), fakeContext()) as GroupedLimitQuery).having;
  const frame = [row({}), row({}), row({}), row({ classId: BUS }), row({ classId: PERSON, score: 0.2 })];

  it.each<[string, boolean]>([
    ["SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1", true],
    ["SUM(class = 'car') >= 4", false],
    ["SUM(class = 'car') >= 4 OR SUM(class = 'person') = 1", true],
    ['COUNT(*) = 5', true],
    ["NOT SUM(class = 'bus') > 0", false],
    ["SUM(class = 'car' AND score > 0.5) BETWEEN 3 AND 3", true],
    ["SUM(class = 'car') NOT BETWEEN 1 AND 3", false],
    ["3 < SUM(class != 'truck')", true],
  ])('%s', (h, expected) => {
    expect(evaluateFramePredicate(having(h), frame)).toBe(expected);
  });

  it('counts matching rows', () => {
    expect(countMatching(where("class = 'car'"), frame)).toBe(3);
    expect(countMatching(where('score < 0.5'), [])).toBe(0);
  });
});
