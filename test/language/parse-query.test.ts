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
  type Expression,
  type SelectQueryNode as SelectQuery,
} from '../../src/language/index.js';
import { stripSpans } from './ast-helpers.js';

const id = (name: string): IdentifierNode => IdentifierNode.create(name);
const num = (value: number): NumberNode => NumberNode.create(value);
const str = (value: string): StringNode => StringNode.create(value);
const cmp = (op: ComparisonNode['op'], left: Expression, right: Expression): ComparisonNode => ComparisonNode.create(op, left, right);
const classIs = (name: string): ComparisonNode => cmp('=', id('class'), str(name));
const traffic = VideoNameNode.create('traffic');

function select(parts: Partial<Parameters<typeof SelectQueryNode.create>[0]>): SelectQuery {
  return SelectQueryNode.create({ selection: [AllColumnsNode.create()], from: traffic, ...parts });
}

/** The WHERE expression of `SELECT * FROM traffic WHERE <text>`. */
function where(text: string): unknown {
  const statement = parseQuery(`SELECT * FROM traffic WHERE ${text}`);
  return stripSpans((statement as SelectQuery).where);
}

describe('parseQuery: the query forms of FRAMEQL.md', () => {
  const cases: { name: string; query: string; ast: SelectQuery | ExplainNode }[] = [
    {
      name: 'binary selection with accuracy targets',
      query: "SELECT timestamp FROM traffic WHERE class = 'car' FNR WITHIN 0.01 FPR WITHIN 0.01",
      ast: select({
        selection: [id('timestamp')],
        where: classIs('car'),
        accuracy: [RateTargetNode.create('fnr-within', 0.01), RateTargetNode.create('fpr-within', 0.01)],
      }),
    },
    {
      name: 'frame-averaged count with an error bound',
      query: "SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 95%",
      ast: select({
        selection: [CallNode.create('FCOUNT', [StarNode.create()])],
        where: classIs('car'),
        accuracy: [ErrorTargetNode.create(0.1, 0.95)],
      }),
    },
    {
      name: 'the same with a stated confidence and a cap on reference-detector calls',
      query: "SELECT timestamp FROM traffic WHERE class = 'bus'\n  FNR WITHIN 0.01 FPR WITHIN 0.01 AT CONFIDENCE 95% BUDGET 2000",
      ast: select({
        selection: [id('timestamp')],
        where: classIs('bus'),
        accuracy: [RateTargetNode.create('fnr-within', 0.01), RateTargetNode.create('fpr-within', 0.01, 0.95), BudgetNode.create(2000)],
      }),
    },
    {
      name: "AIDB's spelling of the same targets",
      query: "SELECT timestamp FROM traffic WHERE class = 'bus' RECALL_TARGET 99% PRECISION_TARGET 99% CONFIDENCE 95%",
      ast: select({
        selection: [id('timestamp')],
        where: classIs('bus'),
        accuracy: [RateTargetNode.create('recall-target', 0.99), RateTargetNode.create('precision-target', 0.99, 0.95)],
      }),
    },
    {
      name: 'COUNT(DISTINCT frame)',
      query: "SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car'",
      ast: select({ selection: [CallNode.create('COUNT', [id('frame')], { distinct: true })], where: classIs('car') }),
    },
    {
      name: 'COUNT(*)',
      query: "SELECT COUNT(*) FROM traffic WHERE class = 'car'",
      ast: select({ selection: [CallNode.create('COUNT', [StarNode.create()])], where: classIs('car') }),
    },
    {
      name: 'limit query with GROUP BY, HAVING, LIMIT and GAP',
      query: "SELECT timestamp FROM traffic GROUP BY timestamp\n  HAVING SUM(class = 'car') >= 3 AND SUM(class = 'bus') >= 1 LIMIT 10 GAP 300",
      ast: select({
        selection: [id('timestamp')],
        groupBy: [id('timestamp')],
        having: AndNode.create([
          cmp('>=', CallNode.create('SUM', [classIs('car')]), num(3)),
          cmp('>=', CallNode.create('SUM', [classIs('bus')]), num(1)),
        ]),
        limit: CountClauseNode.create('limit', 10),
        gap: CountClauseNode.create('gap', 300),
      }),
    },
    {
      name: 'content predicates on boxes, confidence and time',
      query: `SELECT timestamp FROM traffic
  WHERE class = 'person' AND score >= 0.5 AND xmin > 320 AND area > 2000
    AND timestamp BETWEEN 60 AND 120`,
      ast: select({
        selection: [id('timestamp')],
        where: AndNode.create([
          classIs('person'),
          cmp('>=', id('score'), num(0.5)),
          cmp('>', id('xmin'), num(320)),
          cmp('>', id('area'), num(2000)),
          BetweenNode.create(id('timestamp'), num(60), num(120)),
        ]),
      }),
    },
    {
      name: 'SELECT * with ORDER BY and LIMIT',
      query: "SELECT * FROM traffic WHERE class = 'bus' ORDER BY score DESC, frame, timestamp ASC LIMIT 20",
      ast: select({
        where: classIs('bus'),
        orderBy: [
          OrderByItemNode.create(id('score'), 'desc', true),
          OrderByItemNode.create(id('frame')),
          OrderByItemNode.create(id('timestamp'), 'asc', true),
        ],
        limit: CountClauseNode.create('limit', 20),
      }),
    },
    {
      name: 'a column list',
      query: 'SELECT frame, class, score, width * height FROM traffic',
      ast: select({ selection: [id('frame'), id('class'), id('score'), ArithmeticNode.create('*', id('width'), id('height'))] }),
    },
    {
      name: 'EXPLAIN',
      query: 'EXPLAIN SELECT * FROM traffic',
      ast: ExplainNode.create(select({}), false),
    },
    {
      name: 'EXPLAIN ANALYZE',
      query: 'explain analyze select * from traffic;',
      ast: ExplainNode.create(select({}), true),
    },
    {
      name: 'a quoted file path',
      query: "SELECT * FROM 'videos/it''s here.mp4'",
      ast: select({ from: VideoPathNode.create("videos/it's here.mp4") }),
    },
    {
      name: 'a quoted video name',
      query: 'SELECT * FROM "order ""2"""',
      ast: select({ from: VideoNameNode.create('order "2"', true) }),
    },
    {
      name: 'SUM, AVG, MIN and MAX calls',
      query: 'SELECT SUM(score), AVG(area), MIN(xmin), max(ymax) FROM traffic',
      ast: select({
        selection: [
          CallNode.create('SUM', [id('score')]),
          CallNode.create('AVG', [id('area')]),
          CallNode.create('MIN', [id('xmin')]),
          CallNode.create('max', [id('ymax')]),
        ],
      }),
    },
    {
      name: 'ERROR WITHIN without a confidence, FNR as a percentage',
      query: 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.5 FNR WITHIN 1%',
      ast: select({
        selection: [CallNode.create('FCOUNT', [StarNode.create()])],
        accuracy: [ErrorTargetNode.create(0.5), RateTargetNode.create('fnr-within', 0.01)],
      }),
    },
    {
      name: 'accuracy clauses in any order, each with its own confidence, lower case',
      query: 'select timestamp from traffic budget 10 recall_target .9 confidence 90% fnr within 1% at confidence 0.9 Precision_Target 50% fpr within 0.2 error within 3 at confidence 99.9%',
      ast: select({
        selection: [id('timestamp')],
        accuracy: [
          BudgetNode.create(10),
          RateTargetNode.create('recall-target', 0.9, 0.9),
          RateTargetNode.create('fnr-within', 0.01, 0.9),
          RateTargetNode.create('precision-target', 0.5),
          RateTargetNode.create('fpr-within', 0.2),
          ErrorTargetNode.create(3, 0.999),
        ],
      }),
    },
    {
      name: 'duplicate clauses and odd budgets parse (the binder rejects them)',
      query: 'SELECT * FROM traffic BUDGET -1 BUDGET 2.5 BUDGET +3 RECALL_TARGET 99 RECALL_TARGET -1%',
      ast: select({
        accuracy: [
          BudgetNode.create(-1),
          BudgetNode.create(2.5),
          BudgetNode.create(3),
          RateTargetNode.create('recall-target', 99),
          RateTargetNode.create('recall-target', -0.01),
        ],
      }),
    },
    {
      name: 'negative LIMIT and GAP parse (the binder rejects them)',
      query: 'SELECT * FROM traffic LIMIT -1 GAP +2.5',
      ast: select({ limit: CountClauseNode.create('limit', -1), gap: CountClauseNode.create('gap', 2.5) }),
    },
  ];

  it.each(cases)('$name', ({ query, ast }) => {
    expect(stripSpans(parseQuery(query))).toEqual(stripSpans(ast));
  });

  it('returns frozen nodes', () => {
    const q = parseQuery("SELECT * FROM traffic WHERE class = 'car'") as SelectQuery;
    expect(Object.isFrozen(q)).toBe(true);
    expect(Object.isFrozen(q.where)).toBe(true);
    expect(Object.isFrozen(q.selection)).toBe(true);
    expect(Object.isFrozen(q.accuracy)).toBe(true);
  });
});

describe('parseQuery: lexical details', () => {
  it.each([
    ["select timestamp from traffic where class = 'car' limit 5 gap 2", "SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2"],
    ["SeLeCt timestamp FrOm traffic WhErE class = 'car' LiMiT 5 GaP 2", "SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2"],
    ["SELECT timestamp -- the time\nFROM traffic /* a\nblock */ WHERE class = 'car' LIMIT 5 GAP 2 -- end", "SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2"],
    ["SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2;", "SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2"],
    ["\r\n  SELECT\ttimestamp\r\nFROM traffic\rWHERE class='car'LIMIT 5 GAP 2 ;  ", "SELECT timestamp FROM traffic WHERE class = 'car' LIMIT 5 GAP 2"],
    ['SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 95%', 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 0.95'],
    ['SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 99.9%', 'SELECT FCOUNT(*) FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE 0.999'],
  ])('%j means the same as %j', (a, b) => {
    expect(stripSpans(parseQuery(a))).toEqual(stripSpans(parseQuery(b)));
  });

  it.each([
    ['1', 1],
    ['1.', 1],
    ['.5', 0.5],
    ['1e3', 1000],
    ['1E-2', 0.01],
    ['2.5e+1', 25],
    ['-3', -3],
    ['- 3', -3],
    ['+3', 3],
    ['--3\n3', 3],
    ['1e308', 1e308],
  ])('number %j is %d', (text, value) => {
    expect(where(`score = ${text}`)).toEqual(stripSpans(cmp('=', id('score'), num(value))));
  });

  it.each([
    ["'car'", 'car'],
    ["''", ''],
    ["'it''s'", "it's"],
    ["''''", "'"],
    ["'traffic light'", 'traffic light'],
    ["'two\nlines'", 'two\nlines'],
    ["'-- not a comment'", '-- not a comment'],
    ["'café 🚗'", 'café 🚗'],
  ])('string %j is %j', (text, value) => {
    expect(where(`class = ${text}`)).toEqual(stripSpans(classIs(value)));
  });

  it('reads <> as !=', () => {
    expect(where('score <> 1')).toEqual(where('score != 1'));
    expect(where('score <> 1')).toEqual(stripSpans(cmp('!=', id('score'), num(1))));
  });

  it('keeps identifiers as written and keywords case-insensitive', () => {
    expect(where('Score > 1')).toEqual(stripSpans(cmp('>', id('Score'), num(1))));
    expect(where('"select" > 1')).toEqual(stripSpans(cmp('>', IdentifierNode.create('select', true), num(1))));
    expect(where('selected > 1')).toEqual(stripSpans(cmp('>', id('selected'), num(1))));
  });
});

describe('parseQuery: expressions', () => {
  const a = id('a');
  const b = id('b');
  const c = id('c');
  it.each<[string, Expression]>([
    ['a OR b AND c', OrNode.create([a, AndNode.create([b, c])])],
    ['(a OR b) AND c', AndNode.create([OrNode.create([a, b]), c])],
    ['a AND b AND c', AndNode.create([a, b, c])],
    ['(a AND b) AND (c)', AndNode.create([a, b, c])],
    ['a OR (b OR c)', OrNode.create([a, b, c])],
    ['NOT a = 1', NotNode.create(cmp('=', a, num(1)))],
    ['NOT NOT a', NotNode.create(NotNode.create(a))],
    ['NOT a AND b', AndNode.create([NotNode.create(a), b])],
    ['a = 1 + 2 * 3', cmp('=', a, ArithmeticNode.create('+', num(1), ArithmeticNode.create('*', num(2), num(3))))],
    ['a - b - c', ArithmeticNode.create('-', ArithmeticNode.create('-', a, b), c)],
    ['a - (b - c)', ArithmeticNode.create('-', a, ArithmeticNode.create('-', b, c))],
    ['a / b * c', ArithmeticNode.create('*', ArithmeticNode.create('/', a, b), c)],
    ['-a * b', ArithmeticNode.create('*', NegateNode.create(a), b)],
    ['-(a * b)', NegateNode.create(ArithmeticNode.create('*', a, b))],
    ['- -a', NegateNode.create(NegateNode.create(a))],
    ['- -5', num(5)],
    ['a * -5', ArithmeticNode.create('*', a, num(-5))],
    ['a BETWEEN 1 AND 2 AND b', AndNode.create([BetweenNode.create(a, num(1), num(2)), b])],
    ['a NOT BETWEEN b - 1 AND b + 1', BetweenNode.create(a, ArithmeticNode.create('-', b, num(1)), ArithmeticNode.create('+', b, num(1)), true)],
    ["class IN ('car', 'bus')", InListNode.create(id('class'), [str('car'), str('bus')])],
    ['frame NOT IN (1, 2, 3)', InListNode.create(id('frame'), [num(1), num(2), num(3)], true)],
    ['(a = 1) = (b = 2)', cmp('=', cmp('=', a, num(1)), cmp('=', b, num(2)))],
    ['f()', CallNode.create('f', [])],
    ['f(a, b + 1)', CallNode.create('f', [a, ArithmeticNode.create('+', b, num(1))])],
    ['SUM(DISTINCT a, b)', CallNode.create('SUM', [a, b], { distinct: true })],
  ])('%s', (text, expected) => {
    expect(where(text)).toEqual(stripSpans(expected));
  });
});

describe('parseQuery: source spans', () => {
  const query = "SELECT timestamp\nFROM traffic\nWHERE class = 'car'\n  AND score >= 0.5\nLIMIT 10 GAP 300 FNR WITHIN 1%";
  const q = parseQuery(query) as SelectQuery;

  it('points every node at its text', () => {
    const slice = (n: { span: { start: { offset: number }; end: { offset: number } } }): string => query.slice(n.span.start.offset, n.span.end.offset);
    const whereNode = q.where as AndNode;
    expect(slice(q)).toBe(query);
    expect(slice(q.from)).toBe('traffic');
    expect(slice(whereNode)).toBe("class = 'car'\n  AND score >= 0.5");
    expect(slice(whereNode.operands[0])).toBe("class = 'car'");
    expect(slice((whereNode.operands[0] as ComparisonNode).right)).toBe("'car'");
    expect(slice({ span: (whereNode.operands[1] as ComparisonNode).opSpan })).toBe('>=');
    expect(slice(q.limit!)).toBe('LIMIT 10');
    expect(slice(q.gap!)).toBe('GAP 300');
    expect(slice(q.accuracy[0])).toBe('FNR WITHIN 1%');
  });

  it('points accuracy clauses and their confidences at their text', () => {
    const text = 'SELECT timestamp FROM traffic RECALL_TARGET 99% CONFIDENCE 0.9\nFNR WITHIN 1%  AT CONFIDENCE 90% BUDGET 20';
    const clauses = (parseQuery(text) as SelectQuery).accuracy;
    const slice = (span: { start: { offset: number }; end: { offset: number } } | undefined): string => text.slice(span!.start.offset, span!.end.offset);
    expect(clauses.map((c) => slice(c.span))).toEqual(['RECALL_TARGET 99% CONFIDENCE 0.9', 'FNR WITHIN 1%  AT CONFIDENCE 90%', 'BUDGET 20']);
    const [recall, fnr] = clauses as RateTargetNode[];
    expect(slice(recall.confidenceSpan)).toBe('0.9');
    expect(slice(fnr.confidenceSpan)).toBe('90%');
    expect(fnr.confidenceSpan!.start).toMatchObject({ line: 2, column: 30 });
    expect((parseQuery('SELECT timestamp FROM traffic FPR WITHIN 1%') as SelectQuery).accuracy[0]).toMatchObject({ confidence: undefined, confidenceSpan: undefined });
  });

  it('has 1-based lines and columns', () => {
    const car = ((q.where as AndNode).operands[0] as ComparisonNode).right;
    expect(car.span.start).toEqual({ line: 3, column: 15, offset: query.indexOf("'car'") });
    expect(car.span.end).toEqual({ line: 3, column: 20, offset: query.indexOf("'car'") + 5 });
    const score = ((q.where as AndNode).operands[1] as ComparisonNode).left;
    expect(score.span.start).toMatchObject({ line: 4, column: 7 });
  });

  it('spans a folded negative number from its sign', () => {
    const w = where('score > -  2');
    expect(w).toEqual(stripSpans(cmp('>', id('score'), num(-2))));
    const parsed = parseQuery('SELECT * FROM t WHERE score > -  2') as SelectQuery;
    expect((parsed.where as ComparisonNode).right.span.start.column).toBe(31);
  });
});
