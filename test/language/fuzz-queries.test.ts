import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bindQuery } from '../../src/binder/index.js';
import { QueryError } from '../../src/errors.js';
import { formatQuery, parseQuery } from '../../src/language/index.js';
import { fakeContext } from '../binder/fake-context.js';
import { queryErrorProblem, stripSpans } from './ast-helpers.js';
import { Prng } from './prng.js';

/**
 * Thousands of malformed and mutated queries through parse + bind: none may crash, and every
 * failure must be one well-formed QueryError (known code, consistent line/column/offset).
 */

const QUERIES_DIR = new URL('../../queries/', import.meta.url);

const SEEDS: string[] = [
  ...readdirSync(QUERIES_DIR)
    .filter((f) => f.endsWith('.sql'))
    .map((f) => readFileSync(new URL(f, QUERIES_DIR), 'utf8')),
  "SELECT frame, class, score FROM campus WHERE class IN ('person', 'bicycle') AND NOT score < 0.3 ORDER BY 2 DESC, frame LIMIT 100",
  "SELECT COUNT(*), AVG(area), MIN(score), MAX(xmax - xmin) FROM 'clip.mp4' WHERE timestamp >= 10.5 AND frame NOT BETWEEN 3 AND 7",
  "SELECT frame FROM shopfront GROUP BY frame HAVING COUNT(*) >= 2 OR SUM(class = 'person' AND width > 40) BETWEEN 1 AND 3 LIMIT 5 GAP 30 FNR WITHIN 5% FPR WITHIN .02",
  "EXPLAIN SELECT SUM(class = 'car') FROM \"traffic\" WHERE -(score * 2) < -1 ERROR WITHIN 0.5",
  "select * from traffic where (class = 'car' or class = 'truck') and frame in (1, 2, 3) and area / 2 > 1e3;",
  "SELECT timestamp FROM traffic WHERE class = 'bus' FNR WITHIN 0.01 FPR WITHIN 0.01 AT CONFIDENCE 95% BUDGET 2000",
  "SELECT timestamp FROM traffic WHERE class = 'bus' RECALL_TARGET 99% PRECISION_TARGET 99% CONFIDENCE 95%",
  "SELECT COUNT(DISTINCT frame) FROM campus WHERE class = 'person' BUDGET 300 PRECISION_TARGET 0.9 FPR WITHIN 5% AT CONFIDENCE 0.9",
];

const VOCABULARY: string[] = [
  'SELECT', 'FROM', 'WHERE', 'GROUP', 'BY', 'HAVING', 'ORDER', 'ASC', 'DESC', 'LIMIT', 'GAP', 'FNR', 'FPR', 'ERROR', 'WITHIN',
  'AT', 'CONFIDENCE', 'RECALL_TARGET', 'PRECISION_TARGET', 'BUDGET', 'EXPLAIN', 'ANALYZE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN',
  'DISTINCT', 'FCOUNT', 'COUNT', 'SUM', 'AVG',
  'MIN', 'MAX', 'frame', 'timestamp', 'class', 'score', 'xmin', 'ymax', 'width', 'area', 'trackid', 'traffic', 'campus',
  'nosuchvideo', 'abs', '*', '(', ')', ',', ';', '=', '!=', '<>', '<', '<=', '>', '>=', '+', '-', '/', '%', "'car'", "'bus'",
  "'cra'", "''", "'it''s'", '"class"', '"car"', '""', '0', '1', '-1', '0.5', '95', '95%', '1e3', '.5', '300', "'x.mp4'",
];

const ODD_TEXT: string[] = [
  '\u0000', '\u0007', '\u00a0', '\u2028', '\u2029', '\ufeff', '\ud800', '\udfff', '😀', '🚗', 'é', 'ß', 'ı', 'İ', '\u202e',
  '\r', '\r\n', '\t', '\v', "'", '"', '`', '/*', '*/', '--', '#', '@', '$', '.', ':', '[', ']', '{', '}', '\\', '!', '?', '^', '&', '|', '~',
];

const HUGE_NUMBERS: string[] = [
  '9'.repeat(400), '1e309', '1e-400', `0.${'0'.repeat(400)}1`, '1.7976931348623157e308', '1.8e308', '9007199254740993',
  `${'1'.repeat(30)}.${'5'.repeat(30)}`, '4.9e-324', '1e21', '-0', '0e0', '00000000001', '1e', '1e+', '1.2.3', '..5',
];

const TOKEN = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[A-Za-z_]\w*|<>|<=|>=|!=|\S/g;

function tokenize(text: string): string[] {
  return (text.match(TOKEN) ?? []).filter((t) => !t.startsWith('--') && !t.startsWith('/*'));
}

function join(r: Prng, tokens: readonly string[]): string {
  const separator = r.pick([' ', ' ', ' ', '\n', '\t', '  ', '\r\n']);
  return tokens.join(separator);
}

function randomChars(r: Prng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    const k = r.int(4);
    if (k === 0) s += String.fromCharCode(r.int(0x10000));
    else if (k === 1) s += String.fromCharCode(r.int(128));
    else s += r.pick(ODD_TEXT);
  }
  return s;
}

type Mutation = (r: Prng, tokens: string[], text: string) => string;

const at = (r: Prng, tokens: readonly string[]): number => r.int(Math.max(tokens.length, 1));

const MUTATIONS: readonly Mutation[] = [
  function deleteToken(r, tokens) {
    tokens.splice(at(r, tokens), 1 + (r.chance(0.2) ? r.int(3) : 0));
    return join(r, tokens);
  },
  function insertToken(r, tokens) {
    tokens.splice(r.int(tokens.length + 1), 0, r.pick(VOCABULARY));
    return join(r, tokens);
  },
  function replaceToken(r, tokens) {
    tokens[at(r, tokens)] = r.pick(VOCABULARY);
    return join(r, tokens);
  },
  function swapTokens(r, tokens) {
    const i = at(r, tokens);
    const j = at(r, tokens);
    [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
    return join(r, tokens);
  },
  function duplicateToken(r, tokens) {
    const i = at(r, tokens);
    tokens.splice(i, 0, ...Array.from({ length: 1 + r.int(4) }, () => tokens[i] ?? 'SELECT'));
    return join(r, tokens);
  },
  function truncate(_r, _tokens, text) {
    return text.slice(0, _r.int(text.length + 1));
  },
  function insertOddText(r, _tokens, text) {
    const i = r.int(text.length + 1);
    return text.slice(0, i) + randomChars(r, 1 + r.int(6)) + text.slice(i);
  },
  function replaceWithOddText(r, tokens) {
    tokens[at(r, tokens)] = randomChars(r, 1 + r.int(3));
    return join(r, tokens);
  },
  function hugeNumber(r, tokens) {
    const numbers = tokens.map((t, i) => (/^[\d.]/.test(t) ? i : -1)).filter((i) => i >= 0);
    tokens[numbers.length > 0 ? r.pick(numbers) : at(r, tokens)] = r.pick(HUGE_NUMBERS);
    return join(r, tokens);
  },
  function nestParentheses(r, tokens) {
    const depth = r.chance(0.02) ? 10_000 : r.pick([1, 2, 10, 30, 62, 63, 64, 65, 100, 300]);
    const i = at(r, tokens);
    const balanced = r.chance(0.7);
    tokens.splice(i, 1, `${'('.repeat(depth)}${tokens[i] ?? ''}${balanced ? ')'.repeat(depth) : ''}`);
    return join(r, tokens);
  },
  function prefixChain(r, tokens) {
    const n = r.pick([1, 2, 63, 64, 65, 200, 3000]);
    tokens.splice(at(r, tokens), 0, Array.from({ length: n }, () => r.pick(['NOT', '-', '+'])).join(' '));
    return join(r, tokens);
  },
  function longChain(r, tokens) {
    const n = r.pick([10, 100, 255, 256, 257, 1000]);
    const piece = r.pick([' AND frame > 1', ' OR score < 0.5', ' + 1', ' * 2', ', 1', " AND class = 'car'"]);
    tokens.splice(r.int(tokens.length + 1), 0, piece.repeat(n));
    return join(r, tokens);
  },
  function flipCase(r, _tokens, text) {
    return [...text].map((c) => (r.chance(0.3) ? (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) : c)).join('');
  },
  function splice(r, _tokens, text) {
    const other = r.pick(SEEDS);
    return text.slice(0, r.int(text.length + 1)) + other.slice(r.int(other.length + 1));
  },
  function unterminate(r, _tokens, text) {
    const i = r.int(text.length + 1);
    return text.slice(0, i) + r.pick(["'", '"', '/*', "'unterminated", '"name']) + text.slice(i);
  },
];

function mutate(r: Prng): string {
  let text = r.pick(SEEDS);
  const rounds = 1 + r.int(3);
  for (let k = 0; k < rounds; k++) {
    const mutation = r.pick(MUTATIONS);
    text = mutation(r, tokenize(text), text);
  }
  return text;
}

type Outcome = { ok: true } | { ok: false; error: QueryError };

function run(text: string): Outcome {
  try {
    bindQuery(parseQuery(text), fakeContext());
    return { ok: true };
  } catch (e) {
    const problem = queryErrorProblem(e, text);
    if (problem !== undefined) throw new Error(`${problem}\nquery: ${JSON.stringify(text.slice(0, 500))}`);
    return { ok: false, error: e as QueryError };
  }
}

describe('fuzzing parse + bind', () => {
  it('answers 12,000 mutated queries with a result or one well-formed QueryError', () => {
    const r = new Prng(0x5eed);
    const codes = new Map<string, number>();
    const failures: string[] = [];
    let ok = 0;
    const total = 12_000;
    for (let i = 0; i < total; i++) {
      const text = mutate(r);
      let outcome: Outcome;
      try {
        outcome = run(text);
      } catch (e) {
        failures.push(String(e));
        continue;
      }
      if (outcome.ok) {
        ok++;
        // What binds must also round-trip through the formatter.
        const statement = parseQuery(text);
        const again = parseQuery(formatQuery(statement));
        if (JSON.stringify(stripSpans(again)) !== JSON.stringify(stripSpans(statement))) failures.push(`round trip changed: ${text}`);
      } else {
        codes.set(outcome.error.code, (codes.get(outcome.error.code) ?? 0) + 1);
        // The one reused parser instance carries nothing from one query to the next.
        if (i % 7 === 0) {
          const again = run(text);
          if (again.ok || again.error.message !== outcome.error.message) failures.push(`not repeatable: ${text}`);
        }
      }
    }
    expect(failures.slice(0, 5)).toEqual([]);
    // The mutations reach every kind of failure, and leave some queries valid.
    expect(ok).toBeGreaterThan(200);
    for (const code of [
      'SYNTAX_ERROR',
      'LEX_ERROR',
      'UNTERMINATED_STRING',
      'UNTERMINATED_IDENTIFIER',
      'UNTERMINATED_COMMENT',
      'NUMBER_OUT_OF_RANGE',
      'QUERY_TOO_COMPLEX',
      'UNKNOWN_VIDEO',
      'UNKNOWN_COLUMN',
      'UNKNOWN_CLASS',
      'TYPE_MISMATCH',
      'INVALID_CLAUSE',
      'UNSUPPORTED',
    ]) {
      expect(codes.get(code) ?? 0, `${code} in ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
    }
  });

  it('survives pathological inputs', () => {
    const pathological = [
      '('.repeat(10_000),
      ')'.repeat(10_000),
      `SELECT * FROM t WHERE ${'('.repeat(10_000)}1${')'.repeat(10_000)} = 1`,
      `SELECT * FROM t WHERE ${'NOT '.repeat(10_000)}a`,
      `SELECT * FROM t WHERE a = ${'-'.repeat(10_000)}1`,
      `SELECT * FROM t WHERE a = '${"'".repeat(10_001)}`,
      `SELECT ${'a, '.repeat(20_000)}a FROM t`,
      `SELECT * FROM t WHERE a IN (${'1,'.repeat(20_000)}1)`,
      `SELECT * FROM t WHERE ${'a AND '.repeat(5_000)}a`,
      `SELECT * FROM t WHERE a = ${'1 + '.repeat(5_000)}1`,
      `SELECT * FROM t WHERE a = ${'9'.repeat(100_000)}`,
      `SELECT * FROM "${'x'.repeat(100_000)}"`,
      `SELECT * FROM traffic WHERE class = '${'c'.repeat(100_000)}'`,
      Array.from({ length: 5_000 }, (_, i) => String.fromCharCode(i * 13 + 1)).join(''),
      '\u0000'.repeat(1000),
      '\ud83d'.repeat(100),
      'SELECT * FROM t\n'.repeat(1000),
      '-- only comments\n'.repeat(1000),
    ];
    for (const text of pathological) {
      const outcome = run(text);
      expect(outcome.ok, text.slice(0, 60)).toBe(false);
    }
  });
});
