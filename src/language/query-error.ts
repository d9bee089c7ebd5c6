import { QUERY_ERROR_CODES, QueryError, type QueryErrorCode, type SourcePosition } from '../errors.js';

export { QUERY_ERROR_CODES, type QueryErrorCode };

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
