import { QueryError, type SourcePosition } from '../errors.js';

/** Every code a FrameQL `QueryError` can carry, from lexing to binding. */
export const QUERY_ERROR_CODES = Object.freeze({
  /** A character that starts no token. */
  LEX_ERROR: 'LEX_ERROR',
  /** A `'` with no closing quote. */
  UNTERMINATED_STRING: 'UNTERMINATED_STRING',
  /** A `"` with no closing quote. */
  UNTERMINATED_IDENTIFIER: 'UNTERMINATED_IDENTIFIER',
  /** A `/*` with no closing `*\/`. */
  UNTERMINATED_COMMENT: 'UNTERMINATED_COMMENT',
  /** Nothing but white space and comments. */
  EMPTY_QUERY: 'EMPTY_QUERY',
  /** Tokens in an order the grammar does not accept. */
  SYNTAX_ERROR: 'SYNTAX_ERROR',
  /** A number literal too large for a double. */
  NUMBER_OUT_OF_RANGE: 'NUMBER_OUT_OF_RANGE',
  /** Parentheses, NOT or signs nested deeper than the parser allows. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  UNKNOWN_VIDEO: 'UNKNOWN_VIDEO',
  UNKNOWN_CLASS: 'UNKNOWN_CLASS',
  UNKNOWN_COLUMN: 'UNKNOWN_COLUMN',
  UNKNOWN_FUNCTION: 'UNKNOWN_FUNCTION',
  TYPE_MISMATCH: 'TYPE_MISMATCH',
  /** A clause that is valid FrameQL but makes no sense here (GAP without LIMIT, ...). */
  INVALID_CLAUSE: 'INVALID_CLAUSE',
  /** Valid FrameQL that this engine does not answer yet (tracking, GROUP BY class, ...). */
  UNSUPPORTED: 'UNSUPPORTED',
});

export type QueryErrorCode = keyof typeof QUERY_ERROR_CODES;

/**
 * Builds the one `QueryError` a rejected query gets: the message starts with
 * `line L, column C: ` so it stands alone on a terminal.
 */
export function queryError(
  code: QueryErrorCode,
  position: SourcePosition,
  text: string,
  info: { found?: string; expected?: readonly string[]; suggestions?: readonly string[] } = {},
): QueryError {
  return new QueryError(code, `line ${position.line}, column ${position.column}: ${text}`, {
    position,
    found: info.found,
    expected: Object.freeze([...(info.expected ?? [])]),
    suggestions: Object.freeze([...(info.suggestions ?? [])]),
  });
}

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`. */
export function listAlternatives(items: readonly string[], conjunction = 'or'): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} ${conjunction} ${items[items.length - 1]}`;
}

/** ` — did you mean 'car'?`, or the empty string when there is nothing to suggest. */
export function didYouMean(suggestions: readonly string[], quote: (s: string) => string = (s) => `'${s}'`): string {
  if (suggestions.length === 0) return '';
  return ` — did you mean ${listAlternatives(suggestions.map(quote))}?`;
}

/** The position just after the last character of `text`. */
export function endOfText(text: string): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return Object.freeze({ line, column: text.length - lineStart + 1, offset: text.length });
}
