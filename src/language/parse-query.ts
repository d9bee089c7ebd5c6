import type { IToken } from 'chevrotain';
import { QueryError } from '../errors.js';
import type { Statement } from './ast-node.js';
import { cstToAst } from './cst-to-ast.js';
import { frameQLParser } from './parser.js';
import { endOfText, queryError } from './query-error.js';
import { lexError, syntaxError, tokenStart } from './syntax-errors.js';
import { frameQLLexer, LParen, Minus, Not, Plus, RParen } from './tokens.js';

/**
 * How deep parentheses, `NOT` and signs may nest. The parser is recursive descent; this bound keeps
 * it, and every pass after it, far from the stack limit whatever text comes in.
 */
export const MAX_NESTING_DEPTH = 64;

/** Rejects nesting deeper than {@link MAX_NESTING_DEPTH} before the recursive parser sees it. */
function checkNesting(tokens: readonly IToken[]): void {
  const open: number[] = [];
  let total = 0;
  let run = 0;
  for (const t of tokens) {
    const type = t.tokenType;
    if (type === Not || type === Minus || type === Plus) {
      run++;
    } else if (type === LParen) {
      open.push(run + 1);
      total += run + 1;
      run = 0;
    } else if (type === RParen) {
      total -= open.pop() ?? 0;
      run = 0;
    } else {
      run = 0;
    }
    if (total + run > MAX_NESTING_DEPTH) {
      throw queryError('QUERY_TOO_COMPLEX', tokenStart(t), `the query nests parentheses, NOT or signs more than ${MAX_NESTING_DEPTH} levels deep; simplify it`, {
        found: t.image,
      });
    }
  }
}

function tooComplex(text: string): QueryError {
  return queryError('QUERY_TOO_COMPLEX', endOfText(text), 'the query is too complex to parse; simplify it');
}

/**
 * Parses one FrameQL statement.
 *
 * ```ts
 * const statement = parseQuery("SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 95%");
 * statement.kind; // 'select'
 * ```
 *
 * @throws QueryError — exactly one, with a stable `code` (`LEX_ERROR`, `UNTERMINATED_STRING`,
 *   `SYNTAX_ERROR`, `EMPTY_QUERY`, `NUMBER_OUT_OF_RANGE`, `QUERY_TOO_COMPLEX`, ...), the line and
 *   column, what was `found` and what was `expected`.
 */
export function parseQuery(text: string): Statement {
  if (typeof text !== 'string') {
    throw queryError('EMPTY_QUERY', { line: 1, column: 1, offset: 0 }, 'the query must be text');
  }
  const lexed = frameQLLexer.tokenize(text);
  const unclosed = lexed.groups.unterminated?.[0];
  const firstLexError =
    unclosed !== undefined && (lexed.errors[0] === undefined || unclosed.startOffset < lexed.errors[0].offset)
      ? { offset: unclosed.startOffset, line: unclosed.startLine, column: unclosed.startColumn, length: unclosed.image.length, message: '' }
      : lexed.errors[0];
  const tokens = lexed.tokens;
  if (tokens.length === 0 && firstLexError === undefined) {
    throw queryError('EMPTY_QUERY', endOfText(text), 'the query is empty; write SELECT ... FROM <video>', {
      found: 'end of query',
      expected: ['SELECT', 'EXPLAIN'],
    });
  }
  if (firstLexError !== undefined) {
    // A syntax error wholly before the bad character is reported first: it is the earlier problem.
    const before = tokens.filter((t) => t.startOffset < firstLexError.offset);
    const early = parseErrorBefore(text, before, firstLexError.offset);
    throw early ?? lexError(text, firstLexError);
  }
  checkNesting(tokens);
  let cst;
  try {
    frameQLParser.input = tokens;
    cst = frameQLParser.statement();
    const error = frameQLParser.errors[0];
    if (error !== undefined) throw syntaxError(text, tokens, error, cst);
    return cstToAst(cst);
  } catch (e) {
    if (e instanceof RangeError) throw tooComplex(text);
    throw e;
  }
}

function parseErrorBefore(text: string, tokens: IToken[], offset: number): QueryError | undefined {
  if (tokens.length === 0) return undefined;
  try {
    checkNesting(tokens);
    frameQLParser.input = tokens;
    const cst = frameQLParser.statement();
    const error = frameQLParser.errors[0];
    if (error === undefined) return undefined;
    const e = syntaxError(text, tokens, error, cst);
    return e.position !== undefined && e.position.offset < offset ? e : undefined;
  } catch (e) {
    return e instanceof QueryError && e.position !== undefined && e.position.offset < offset ? e : undefined;
  }
}
