import { QueryError } from '../../src/errors.js';
import { QUERY_ERROR_CODES } from '../../src/language/index.js';

const SPAN_KEYS = new Set(['span', 'nameSpan', 'opSpan', 'errorSpan', 'confidenceSpan']);

/** A plain copy of an AST without source spans, for comparing trees built from different text. */
export function stripSpans(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripSpans);
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (!SPAN_KEYS.has(key)) out[key] = stripSpans(value);
    }
    return out;
  }
  return node;
}

/** Line and column (1-based) of a UTF-16 offset, counting \n, \r\n and \r as line breaks. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** Why `error` is not a well-formed FrameQL QueryError for `text`, or undefined when it is. */
export function queryErrorProblem(error: unknown, text: string): string | undefined {
  if (!(error instanceof QueryError)) return `not a QueryError: ${String(error)}${error instanceof Error ? `\n${error.stack}` : ''}`;
  if (!Object.hasOwn(QUERY_ERROR_CODES, error.code)) return `unknown code ${error.code}`;
  if (error.category !== 'query') return `category ${error.category}`;
  const p = error.position;
  if (p === undefined) return `${error.code} without a position: ${error.message}`;
  if (!(p.line >= 1 && p.column >= 1 && p.offset >= 0 && p.offset <= text.length)) return `bad position ${JSON.stringify(p)}`;
  const expected = positionOf(text, p.offset);
  if (expected.line !== p.line || expected.column !== p.column) {
    return `position ${p.line}:${p.column} does not match offset ${p.offset} (${expected.line}:${expected.column})`;
  }
  if (!error.message.startsWith(`line ${p.line}, column ${p.column}: `)) return `message without position: ${error.message}`;
  if (!Array.isArray(error.expected) || !Array.isArray(error.suggestions)) return 'expected/suggestions not arrays';
  return undefined;
}
