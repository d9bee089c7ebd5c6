import { describe, expect, it } from 'vitest';
import { QueryError } from '../../src/errors.js';
import { MAX_EXPRESSION_DEPTH, MAX_NESTING_DEPTH, parseQuery } from '../../src/language/index.js';
import { queryErrorProblem } from './ast-helpers.js';

function parseError(query: string): QueryError {
  try {
    parseQuery(query);
  } catch (e) {
    const problem = queryErrorProblem(e, query);
    if (problem !== undefined) throw new Error(problem);
    return e as QueryError;
  }
  throw new Error(`parsed without error: ${query}`);
}

interface Case {
  query: string;
  code: string;
  line: number;
  column: number;
  found?: string;
  expected?: string[];
  suggestions?: string[];
}

const EXPRESSION_START = ['identifier', 'quoted identifier', 'number', 'string', "'('", "'+'", "'-'"];

describe('parseQuery errors: code, position, found, expected', () => {
  const cases: Case[] = [
    { query: 'SELECT * WHERE', code: 'SYNTAX_ERROR', line: 1, column: 10, found: 'WHERE', expected: ['FROM'] },
    { query: 'SELECT timestamp WHERE x', code: 'SYNTAX_ERROR', line: 1, column: 18, found: 'WHERE', expected: ['FROM'] },
    { query: 'SELECT timestamp\nFROM traffic\nWHERE', code: 'SYNTAX_ERROR', line: 3, column: 6, found: 'end of query', expected: [...EXPRESSION_START.slice(0, 5), 'NOT', "'+'", "'-'"] },
    { query: 'SELEC * FROM traffic', code: 'SYNTAX_ERROR', line: 1, column: 1, found: 'SELEC', expected: ['SELECT', 'EXPLAIN'], suggestions: ['SELECT'] },
    { query: 'SELECT * FROM traffic LIMT 5', code: 'SYNTAX_ERROR', line: 1, column: 23, found: 'LIMT', suggestions: ['LIMIT'] },
    { query: "SELECT * FROM traffic WHERE class = 'car' GRUP BY timestamp", code: 'SYNTAX_ERROR', line: 1, column: 43, found: 'GRUP', suggestions: ['GROUP BY'] },
    { query: 'SELECT * FROM traffic GROUP timestamp', code: 'SYNTAX_ERROR', line: 1, column: 29, found: 'timestamp', expected: ['BY'] },
    { query: 'SELECT * FROM traffic WHERE score >', code: 'SYNTAX_ERROR', line: 1, column: 36, found: 'end of query', expected: EXPRESSION_START },
    { query: 'SELECT * FROM traffic WHERE a NOT 5', code: 'SYNTAX_ERROR', line: 1, column: 35, found: '5', expected: ['BETWEEN', 'IN'] },
    { query: 'SELECT * FROM traffic WHERE a BETWEEN 1 OR 2', code: 'SYNTAX_ERROR', line: 1, column: 41, found: 'OR' },
    { query: 'SELECT * FROM traffic WHERE (a = 1', code: 'SYNTAX_ERROR', line: 1, column: 35, found: 'end of query' },
    { query: 'SELECT * FROM traffic WHERE a = 1)', code: 'SYNTAX_ERROR', line: 1, column: 34, found: ')' },
    { query: 'SELECT frame, FROM traffic', code: 'SYNTAX_ERROR', line: 1, column: 15, found: 'FROM' },
    { query: 'SELECT * FROM order', code: 'SYNTAX_ERROR', line: 1, column: 15, found: 'order', expected: ['identifier', 'quoted identifier', 'string'] },
    { query: 'SELECT * FROM traffic LIMIT', code: 'SYNTAX_ERROR', line: 1, column: 28, found: 'end of query', expected: ['number'] },
    { query: 'SELECT * FROM traffic LIMIT 5 GAP x', code: 'SYNTAX_ERROR', line: 1, column: 35, found: 'x', expected: ['number'] },
    { query: 'SELECT * FROM traffic FNR 0.1', code: 'SYNTAX_ERROR', line: 1, column: 27, found: '0.1', expected: ['WITHIN'] },
    { query: 'SELECT * FROM traffic ERROR WITHIN 0.1 AT 95%', code: 'SYNTAX_ERROR', line: 1, column: 43, found: '95', expected: ['CONFIDENCE'] },
    { query: 'SELECT * FROM traffic ERROR WITHIN 0.1 AT CONFIDENCE', code: 'SYNTAX_ERROR', line: 1, column: 53, found: 'end of query', expected: ['number'] },
    { query: 'SELECT * FROM traffic RECALL_TARGET', code: 'SYNTAX_ERROR', line: 1, column: 36, found: 'end of query', expected: ['number'] },
    { query: 'SELECT * FROM traffic RECALL_TARGET WITHIN 0.9', code: 'SYNTAX_ERROR', line: 1, column: 37, found: 'WITHIN' },
    { query: 'SELECT * FROM traffic PRECISION_TARGET 0.9 CONFIDENCE', code: 'SYNTAX_ERROR', line: 1, column: 54, found: 'end of query' },
    { query: 'SELECT * FROM traffic BUDGET', code: 'SYNTAX_ERROR', line: 1, column: 29, found: 'end of query', expected: ['number'] },
    { query: 'SELECT * FROM traffic BUDGET 5%', code: 'SYNTAX_ERROR', line: 1, column: 31, found: '%' },
    { query: 'SELECT * FROM traffic BUDGET many', code: 'SYNTAX_ERROR', line: 1, column: 30, found: 'many' },
    {
      query: 'SELECT * FROM traffic FNR WITHIN 0.01 CONFIDENCE 95%',
      code: 'SYNTAX_ERROR',
      line: 1,
      column: 39,
      found: 'CONFIDENCE',
      expected: ['FNR', 'FPR', 'RECALL_TARGET', 'PRECISION_TARGET', 'ERROR', 'BUDGET', 'AT', "';'", 'end of query'],
    },
    {
      query: 'SELECT * FROM traffic RECALL_TARGET 0.9 AT CONFIDENCE 95%',
      code: 'SYNTAX_ERROR',
      line: 1,
      column: 41,
      found: 'AT',
      expected: ['FNR', 'FPR', 'RECALL_TARGET', 'PRECISION_TARGET', 'ERROR', 'BUDGET', 'CONFIDENCE', "';'", 'end of query'],
    },
    { query: 'SELECT * FROM traffic FNR WITHIN 0.01 AT CONFIDENCE 95% AT CONFIDENCE 95%', code: 'SYNTAX_ERROR', line: 1, column: 57, found: 'AT' },
    { query: 'SELECT * FROM traffic BUDGET 5 AT CONFIDENCE 95%', code: 'SYNTAX_ERROR', line: 1, column: 32, found: 'AT' },
    { query: 'SELECT * FROM traffic RECALL 99%', code: 'SYNTAX_ERROR', line: 1, column: 23, found: 'RECALL', suggestions: ['RECALL_TARGET'] },
    { query: 'SELECT * FROM traffic BUGDET 10', code: 'SYNTAX_ERROR', line: 1, column: 23, found: 'BUGDET', suggestions: ['BUDGET'] },
    { query: 'SELECT * FROM budget', code: 'SYNTAX_ERROR', line: 1, column: 15, found: 'budget' },
    { query: 'SELECT * FROM traffic LIMIT 5 ORDER BY frame', code: 'SYNTAX_ERROR', line: 1, column: 31, found: 'ORDER' },
    { query: 'SELECT * FROM traffic; SELECT * FROM traffic', code: 'SYNTAX_ERROR', line: 1, column: 24, found: 'SELECT', expected: ['end of query'] },
    { query: 'SELECT * FROM a b', code: 'SYNTAX_ERROR', line: 1, column: 17, found: 'b' },
    { query: 'SELECT COUNT(DISTINCT) FROM traffic', code: 'SYNTAX_ERROR', line: 1, column: 22, found: ')' },
    { query: 'SELECT * FROM traffic WHERE a == 1', code: 'SYNTAX_ERROR', line: 1, column: 32, found: '=' },
    { query: 'EXPLAIN EXPLAIN SELECT * FROM t', code: 'SYNTAX_ERROR', line: 1, column: 9, found: 'EXPLAIN', expected: ['ANALYZE', 'SELECT'] },
    { query: 'EXPLAIN ANALYZE FROM t', code: 'SYNTAX_ERROR', line: 1, column: 17, found: 'FROM', expected: ['SELECT'] },
    { query: "SELECT * FROM traffic WHERE class = 'car", code: 'UNTERMINATED_STRING', line: 1, column: 37, expected: ["'"] },
    { query: "SELECT * FROM 'a.mp4''", code: 'UNTERMINATED_STRING', line: 1, column: 22 },
    { query: 'SELECT * FROM "traffic', code: 'UNTERMINATED_IDENTIFIER', line: 1, column: 15 },
    { query: 'SELECT * FROM traffic /* never closed', code: 'UNTERMINATED_COMMENT', line: 1, column: 23 },
    { query: 'SELECT * FROM traffic WHERE score # 1', code: 'LEX_ERROR', line: 1, column: 35, found: '#', expected: [] },
    { query: 'SELECT * FROM traffic\n  WHERE class = `car`', code: 'LEX_ERROR', line: 2, column: 17, found: '`' },
    { query: 'SELECT * FROM traffic WHERE classé = 1', code: 'LEX_ERROR', line: 1, column: 34, found: 'é' },
    { query: 'SELECT * FROM traffic WHERE a = 1\u0000', code: 'LEX_ERROR', line: 1, column: 34, found: '\u0000' },
    { query: 'SELECT * FROM traffic.mp4', code: 'LEX_ERROR', line: 1, column: 22, found: '.' },
    { query: 'SELECT FROM traffic WHERE #', code: 'SYNTAX_ERROR', line: 1, column: 8, found: 'FROM' },
    { query: '', code: 'EMPTY_QUERY', line: 1, column: 1, found: 'end of query', expected: ['SELECT', 'EXPLAIN'] },
    { query: '  -- only a comment\n', code: 'EMPTY_QUERY', line: 2, column: 1 },
    { query: 'SELECT * FROM traffic WHERE score > 1e999', code: 'NUMBER_OUT_OF_RANGE', line: 1, column: 37, found: '1e999' },
    { query: `SELECT * FROM traffic LIMIT ${'9'.repeat(400)}`, code: 'NUMBER_OUT_OF_RANGE', line: 1, column: 29 },
  ];

  it.each(cases)('$query -> $code at $line:$column', (c) => {
    const e = parseError(c.query);
    expect(e.code).toBe(c.code);
    expect(e.position).toMatchObject({ line: c.line, column: c.column });
    if (c.found !== undefined) expect(e.found).toBe(c.found);
    if (c.expected !== undefined) expect(e.expected).toEqual(c.expected);
    if (c.suggestions !== undefined) expect(e.suggestions).toEqual(c.suggestions);
  });

  it('renders one message with the position, what was expected and what was found', () => {
    expect(parseError('SELECT timestamp WHERE class = 1').message).toMatchInlineSnapshot(`"line 1, column 18: expected FROM but found 'WHERE'"`);
    expect(parseError('SELECT * FROM traffic LIMT 5').message).toMatchInlineSnapshot(
      `"line 1, column 23: expected one of WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, GAP, FNR, FPR, RECALL_TARGET, PRECISION_TARGET, ERROR, BUDGET, ';' or end of query but found 'LIMT' — did you mean LIMIT?"`,
    );
    expect(parseError('SELECT timestamp FROM traffic FNR WITHIN 1% CONFIDENCE 95%').message).toMatchInlineSnapshot(
      `"line 1, column 45: expected one of FNR, FPR, RECALL_TARGET, PRECISION_TARGET, ERROR, BUDGET, AT, ';' or end of query but found 'CONFIDENCE' (after FNR WITHIN, FPR WITHIN and ERROR WITHIN write AT CONFIDENCE p)"`,
    );
    expect(parseError('SELECT timestamp FROM traffic RECALL_TARGET 99% AT CONFIDENCE 95%').message).toMatchInlineSnapshot(
      `"line 1, column 49: expected one of FNR, FPR, RECALL_TARGET, PRECISION_TARGET, ERROR, BUDGET, CONFIDENCE, ';' or end of query but found 'AT' (after RECALL_TARGET and PRECISION_TARGET write CONFIDENCE p, without AT)"`,
    );
    expect(parseError('SELECT timestamp FROM traffic PRECISION 90%').message).toMatchInlineSnapshot(
      `"line 1, column 31: expected one of WHERE, GROUP BY, HAVING, ORDER BY, LIMIT, GAP, FNR, FPR, RECALL_TARGET, PRECISION_TARGET, ERROR, BUDGET, ';' or end of query but found 'PRECISION' — did you mean PRECISION_TARGET?"`,
    );
    expect(parseError('SELECT * FROM traffic WHERE a NOT 5').message).toMatchInlineSnapshot(
      `"line 1, column 35: expected BETWEEN or IN but found '5'"`,
    );
    expect(parseError('SELECT * FROM order').message).toMatchInlineSnapshot(
      `"line 1, column 15: expected one of identifier, quoted identifier or string but found 'order' (ORDER is a reserved word: write "order" to use it as a name)"`,
    );
    expect(parseError("SELECT * FROM traffic WHERE class = 'car").message).toMatchInlineSnapshot(
      `"line 1, column 37: unterminated string: close it with ' (write '' for a quote inside it)"`,
    );
    expect(parseError("SELECT * FROM traffic WHERE class = car\u00a0").message).toMatchInlineSnapshot(
      `"line 1, column 40: unexpected character U+00A0"`,
    );
  });

  it('is a QueryError in the query category with the facts in its JSON', () => {
    const e = parseError('SELECT * WHERE');
    expect(e).toBeInstanceOf(QueryError);
    expect(e.toJSON()).toMatchObject({ code: 'SYNTAX_ERROR', category: 'query', line: 1, column: 10, found: 'WHERE', expected: ['FROM'] });
  });

  it('reports a syntax error before a bad character first', () => {
    expect(parseError('SELECT FROM traffic #').code).toBe('SYNTAX_ERROR');
    expect(parseError('SELECT * FROM traffic #').code).toBe('LEX_ERROR');
  });
});

describe('parseQuery limits', () => {
  it(`accepts ${MAX_NESTING_DEPTH} nested parentheses`, () => {
    const n = MAX_NESTING_DEPTH;
    expect(() => parseQuery(`SELECT * FROM t WHERE ${'('.repeat(n)}a = 1${')'.repeat(n)}`)).not.toThrow();
  });

  it.each([
    ['10,000 parentheses', `SELECT * FROM t WHERE ${'('.repeat(10_000)}a = 1${')'.repeat(10_000)}`],
    ['10,000 unclosed parentheses', `SELECT * FROM t WHERE ${'('.repeat(10_000)}`],
    ['10,000 NOTs', `SELECT * FROM t WHERE ${'NOT '.repeat(10_000)}a`],
    ['10,000 minus signs', `SELECT * FROM t WHERE a = ${'- '.repeat(10_000)}1`],
    ['nested calls', `SELECT ${'f('.repeat(5000)}1${')'.repeat(5000)} FROM t`],
    ['parentheses in IN lists', `SELECT * FROM t WHERE a IN ${'('.repeat(3000)}1${')'.repeat(3000)}`],
  ])('rejects %s with QUERY_TOO_COMPLEX', (_name, query) => {
    const e = parseError(query);
    expect(e.code).toBe('QUERY_TOO_COMPLEX');
  });

  it(`rejects an arithmetic chain deeper than ${MAX_EXPRESSION_DEPTH}`, () => {
    const e = parseError(`SELECT * FROM t WHERE a = ${Array.from({ length: 5000 }, () => '1').join(' + ')}`);
    expect(e.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('accepts long flat AND / OR chains and IN lists', () => {
    const ors = Array.from({ length: 2000 }, (_, i) => `frame = ${i}`).join(' OR ');
    expect(() => parseQuery(`SELECT * FROM t WHERE ${ors}`)).not.toThrow();
    const list = Array.from({ length: 5000 }, (_, i) => String(i)).join(', ');
    expect(() => parseQuery(`SELECT * FROM t WHERE frame IN (${list})`)).not.toThrow();
  });
});
