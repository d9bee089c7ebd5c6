import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AllColumnsNode,
  AndNode,
  ArithmeticNode,
  BetweenNode,
  BudgetNode,
  CallNode,
  ComparisonNode,
  CountClauseNode,
  ErrorTargetNode,
  ExplainNode,
  formatExpression,
  formatQuery,
  IdentifierNode,
  InListNode,
  NegateNode,
  NotNode,
  NumberNode,
  OrderByItemNode,
  OrNode,
  parseQuery,
  RateTargetNode,
  SelectQueryNode,
  StarNode,
  StringNode,
  VideoNameNode,
  VideoPathNode,
  type AccuracyClause,
  type Expression,
  type RateTargetKind,
  type Statement,
} from '../../src/language/index.js';
import { stripSpans } from './ast-helpers.js';
import { Prng } from './prng.js';

const QUERIES_DIR = new URL('../../queries/', import.meta.url);

const corpus: string[] = [
  ...readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => readFileSync(new URL(f, QUERIES_DIR), 'utf8')),
  "select * from traffic where not (class = 'car' or class = 'bus') and -score * 2 > -(xmax - xmin) / 3",
  "SELECT * FROM traffic WHERE a - (b - c) = (a - b) - c AND a / (b * c) <> a / b * c",
  'SELECT * FROM traffic WHERE - -a = -(-1) AND -(-a) = 1 AND a - -1 = 0',
  "SELECT * FROM traffic WHERE (a = 1) = (b BETWEEN 1 AND 2) OR NOT NOT (c IN (1, (2), 3 + 4))",
  'SELECT * FROM traffic WHERE a NOT BETWEEN (b OR c) AND (d AND e) AND f NOT IN (g OR h)',
  `SELECT "select", "a""b", "" FROM "from" WHERE "where" = 'it''s'`,
  "EXPLAIN ANALYZE SELECT COUNT(*), SUM(DISTINCT a, b), f() FROM 'x''y.mp4' GROUP BY frame, timestamp HAVING COUNT(*) > 1 ORDER BY 1 ASC, 2 DESC LIMIT 0 GAP -0 ERROR WITHIN 1e-7 FPR WITHIN 5% FNR WITHIN 1e21",
  "SELECT timestamp FROM traffic WHERE class = 'bus' FNR WITHIN 0.01 FPR WITHIN 0.01 AT CONFIDENCE 95% BUDGET 2000",
  "SELECT timestamp FROM traffic WHERE class = 'bus' RECALL_TARGET 99% PRECISION_TARGET 99% CONFIDENCE 95%",
  'SELECT * FROM t BUDGET -0 BUDGET 1e21 RECALL_TARGET -5% CONFIDENCE 1e-7 PRECISION_TARGET 99.99% FNR WITHIN 0 AT CONFIDENCE 100% ERROR WITHIN -1',
];

function roundTrip(statement: Statement): void {
  const text = formatQuery(statement);
  let again: Statement;
  try {
    again = parseQuery(text);
  } catch (e) {
    throw new Error(`${String(e)}\nin: ${text}`);
  }
  expect(stripSpans(again), text).toEqual(stripSpans(statement));
  expect(formatQuery(again)).toBe(text);
}

describe('formatQuery', () => {
  it.each(corpus.map((q) => [q.split('\n').filter((l) => !l.startsWith('--')).join(' ').trim().slice(0, 90), q]))(
    'round-trips %s',
    (_name, query) => roundTrip(parseQuery(query)),
  );

  it('writes canonical FrameQL', () => {
    expect(formatQuery(parseQuery("select  fcount(*)\nfrom traffic -- c\nwhere class='car' error within .1 at confidence 95%;"))).toMatchInlineSnapshot(
      `"SELECT fcount(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 0.95"`,
    );
    expect(
      formatQuery(parseQuery("select timestamp from traffic where class = 'bus' recall_target 99.9% confidence 95% fnr within 1% at confidence .95 budget +2000")),
    ).toMatchInlineSnapshot(
      `"SELECT timestamp FROM traffic WHERE class = 'bus' RECALL_TARGET 0.999 CONFIDENCE 0.95 FNR WITHIN 0.01 AT CONFIDENCE 0.95 BUDGET 2000"`,
    );
    expect(formatQuery(parseQuery('SELECT * FROM t WHERE ((a OR b)) AND (c = (1 + 2) * 3) AND (-(x))'))).toMatchInlineSnapshot(
      `"SELECT * FROM t WHERE (a OR b) AND c = (1 + 2) * 3 AND -x"`,
    );
    expect(formatQuery(parseQuery("EXPLAIN SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 LIMIT 10 GAP 300"))).toMatchInlineSnapshot(
      `"EXPLAIN SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 LIMIT 10 GAP 300"`,
    );
  });

  it('formats hand-built nodes, quoting names where needed', () => {
    const e = ComparisonNode.create('=', IdentifierNode.create('my col'), NegateNode.create(NumberNode.create(-2)));
    expect(formatExpression(e)).toBe('"my col" = -(-2)');
    expect(formatExpression(IdentifierNode.create('limit'))).toBe('"limit"');
    expect(formatExpression(CallNode.create('my func', [StarNode.create()]))).toBe('"my func"(*)');
  });
});

// ---------------------------------------------------------------------------------------------
// Random statements built with the factories: formatting then parsing gives the same tree.

const NAMES = ['a', 'b', 'frame', 'timestamp', 'class', 'score', 'x_1', 'Area', '_'];
const QUOTED = ['select', 'my col', 'a"b', '', 'ünï', 'x'];
const STRINGS = ['car', '', "it's", "''", 'two\nlines', '-- no', '/* no */', '🚗', '"q"'];
const RATE_KINDS: readonly RateTargetKind[] = ['fnr-within', 'fpr-within', 'recall-target', 'precision-target'];
const NUMBERS = [0, 1, 2.5, 0.001, 1e21, 1e-7, 123456789, 5e-324, 1.7976931348623157e308, 0.1 + 0.2];

function literal(r: Prng): Expression {
  switch (r.int(4)) {
    case 0:
      return IdentifierNode.create(r.pick(NAMES));
    case 1:
      return IdentifierNode.create(r.pick(QUOTED), true);
    case 2:
      return StringNode.create(r.pick(STRINGS));
    default:
      return NumberNode.create(r.chance(0.2) ? -r.pick(NUMBERS.filter((n) => n !== 0)) : r.pick(NUMBERS));
  }
}

/** `f(DISTINCT)` does not parse: DISTINCT needs arguments. */
function callWithArgs(name: string, args: Expression[], distinct: boolean): CallNode {
  return CallNode.create(name, args, { distinct: distinct && args.length > 0 });
}

function expression(r: Prng, depth: number): Expression {
  if (depth <= 0 || r.chance(0.25)) return literal(r);
  const sub = (): Expression => expression(r, depth - 1);
  const list = (min: number): Expression[] => Array.from({ length: min + r.int(3) }, sub);
  switch (r.int(10)) {
    case 0:
      return AndNode.create(list(2));
    case 1:
      return OrNode.create(list(2));
    case 2:
      return NotNode.create(sub());
    case 3:
      return ComparisonNode.create(r.pick(['=', '!=', '<', '<=', '>', '>='] as const), sub(), sub());
    case 4:
      return BetweenNode.create(sub(), sub(), sub(), r.chance(0.5));
    case 5:
      return InListNode.create(sub(), list(1), r.chance(0.5));
    case 6:
      return ArithmeticNode.create(r.pick(['+', '-', '*', '/'] as const), sub(), sub());
    case 7: {
      const operand = sub();
      // `-5` is always read back as the number -5, never as a negation of 5.
      return operand.kind === 'number' ? NumberNode.create(0 - operand.value) : NegateNode.create(operand);
    }
    case 8:
      return r.chance(0.3)
        ? CallNode.create(r.pick(['COUNT', 'fcount', 'f']), [StarNode.create()])
        : callWithArgs(r.pick(['SUM', 'avg', 'my func']), r.chance(0.2) ? [] : list(1), r.chance(0.3));
    default:
      return literal(r);
  }
}

function statement(r: Prng): Statement {
  const maybe = <T>(p: number, make: () => T): T | undefined => (r.chance(p) ? make() : undefined);
  const accuracy: AccuracyClause[] = [];
  const confidence = (): number | undefined => (r.chance(0.5) ? r.pick([0.95, 0.5, 99, 0.999]) : undefined);
  for (let i = r.int(5); i > 0; i--) {
    const k = r.int(6);
    if (k === 4) accuracy.push(ErrorTargetNode.create(r.pick(NUMBERS), confidence()));
    else if (k === 5) accuracy.push(BudgetNode.create(r.chance(0.2) ? -r.pick(NUMBERS.filter((n) => n !== 0)) : r.pick(NUMBERS)));
    else accuracy.push(RateTargetNode.create(RATE_KINDS[k], r.pick(NUMBERS), confidence()));
  }
  const query = SelectQueryNode.create({
    selection: r.chance(0.3) ? [AllColumnsNode.create()] : Array.from({ length: 1 + r.int(3) }, () => expression(r, 3)),
    from: r.chance(0.5) ? VideoNameNode.create(r.pick(NAMES)) : r.chance(0.5) ? VideoNameNode.create(r.pick(QUOTED), true) : VideoPathNode.create(r.pick(STRINGS)),
    where: maybe(0.7, () => expression(r, 5)),
    groupBy: r.chance(0.3) ? [expression(r, 1)] : [],
    having: maybe(0.2, () => expression(r, 3)),
    orderBy: r.chance(0.3) ? [OrderByItemNode.create(expression(r, 2), r.chance(0.5) ? 'desc' : 'asc', true), OrderByItemNode.create(expression(r, 1))] : [],
    limit: maybe(0.4, () => CountClauseNode.create('limit', r.pick([0, 10, -1, 2.5]))),
    gap: maybe(0.2, () => CountClauseNode.create('gap', r.pick([0, 300, -3]))),
    accuracy,
  });
  if (r.chance(0.2)) return ExplainNode.create(query, r.chance(0.5));
  return query;
}

describe('formatQuery on generated statements', () => {
  it('round-trips 3,000 random statements', () => {
    const r = new Prng(20240611);
    for (let i = 0; i < 3000; i++) roundTrip(statement(r));
  });
});
