import {
  EOF,
  tokenMatcher,
  type CstNode,
  type ILexingError,
  type IParserErrorMessageProvider,
  type IRecognitionException,
  type IToken,
  type TokenType,
} from 'chevrotain';
import type { QueryError, SourcePosition } from '../errors.js';
import { didYouMean, endOfText, listAlternatives, queryError } from './query-error.js';
import { closestNames } from './suggest.js';
import {
  ALL_TOKENS,
  At,
  Budget,
  Confidence,
  ErrorKeyword,
  Explain,
  Fnr,
  Fpr,
  Gap,
  Group,
  Having,
  Identifier,
  KEYWORD_TOKENS,
  Limit,
  LParen,
  NumberLiteral,
  Order,
  PrecisionTarget,
  QuotedIdentifier,
  RecallTarget,
  Semicolon,
  Star,
  StringLiteral,
  Where,
} from './tokens.js';

const END_OF_QUERY = 'end of query';

/** How a token type is named in `expected` lists and messages. */
export function tokenLabel(type: TokenType): string {
  if (type === EOF) return END_OF_QUERY;
  if (type === Group) return 'GROUP BY';
  if (type === Order) return 'ORDER BY';
  return type.LABEL ?? type.name;
}

const LEADING: readonly TokenType[] = [Identifier, QuotedIdentifier, NumberLiteral, StringLiteral, LParen, Star];

function rank(type: TokenType): number {
  if (type === EOF) return 10_000;
  const leading = LEADING.indexOf(type);
  if (leading >= 0) return leading;
  return 100 + ALL_TOKENS.indexOf(type);
}

function labels(types: Iterable<TokenType>): string[] {
  const unique = [...new Set(types)].sort((a, b) => rank(a) - rank(b));
  return [...new Set(unique.map(tokenLabel))];
}

/**
 * What the error provider hands back through chevrotain's exception message: the parser only
 * recognises, so the structured facts ride in the message and are rendered in one place below.
 */
interface SyntaxErrorPayload {
  readonly expected: readonly string[];
  /** Index into the exception's lookahead tokens of the one that failed (LL(k) alternatives). */
  readonly foundIndex: number;
  readonly ruleName: string;
  readonly redundant?: boolean;
}

function payload(p: SyntaxErrorPayload): string {
  return JSON.stringify(p);
}

/** Longest prefix of `actual` matched by any path; the tokens the matching paths want next. */
function failurePoint(paths: readonly (readonly TokenType[])[], actual: readonly IToken[]): { index: number; expected: TokenType[] } {
  let index = 0;
  let expected: TokenType[] = [];
  for (const path of paths) {
    let m = 0;
    while (m < path.length - 1 && m < actual.length && tokenMatcher(actual[m], path[m])) m++;
    if (m > index) {
      index = m;
      expected = [];
    }
    if (m === index) expected.push(path[m]);
  }
  return { index, expected };
}

export const frameQLErrorProvider: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, ruleName }) {
    return payload({ expected: labels([expected]), foundIndex: 0, ruleName });
  },
  buildNotAllInputParsedMessage({ ruleName }) {
    return payload({ expected: [END_OF_QUERY], foundIndex: 0, ruleName, redundant: true });
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const point = failurePoint(expectedPathsPerAlt.flat(), actual);
    return payload({ expected: labels(point.expected), foundIndex: point.index, ruleName });
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const point = failurePoint(expectedIterationPaths, actual);
    return payload({ expected: labels(point.expected), foundIndex: point.index, ruleName });
  },
};

export function tokenStart(token: IToken): SourcePosition {
  return Object.freeze({ line: token.startLine ?? 1, column: token.startColumn ?? 1, offset: token.startOffset });
}

export function tokenEnd(token: IToken): SourcePosition {
  return Object.freeze({
    line: token.endLine ?? token.startLine ?? 1,
    column: (token.endColumn ?? token.startColumn ?? 0) + 1,
    offset: (token.endOffset ?? token.startOffset) + 1,
  });
}

function isEof(token: IToken | undefined): boolean {
  return token === undefined || token.tokenType === EOF || Number.isNaN(token.startOffset);
}

/** `'WHERE'`, or `end of query`. */
function describeFound(token: IToken | undefined): string {
  if (isEof(token)) return END_OF_QUERY;
  const image = token!.image.length > 40 ? `${token!.image.slice(0, 37)}...` : token!.image;
  return `'${image}'`;
}

/** Clause keywords that may follow the last clause present, for `expected` after a complete query. */
const CLAUSE_ORDER: readonly (readonly [string, readonly TokenType[]])[] = [
  ['Where', [Where]],
  ['Group', [Group]],
  ['Having', [Having]],
  ['Order', [Order]],
  ['Limit', [Limit]],
  ['Gap', [Gap]],
  ['accuracyClause', [Fnr, Fpr, RecallTarget, PrecisionTarget, ErrorKeyword, Budget]],
];

/** The last accuracy clause of a complete query, when the query ends with one. */
function lastAccuracyClause(select: CstNode): CstNode | undefined {
  const clauses = select.children.accuracyClause as CstNode[] | undefined;
  return clauses?.[clauses.length - 1];
}

/** What may still follow the last accuracy clause inside it: its confidence, when it has none. */
function confidenceContinuation(clause: CstNode | undefined): TokenType[] {
  if (clause === undefined || clause.children.confidence !== undefined || clause.children.budget !== undefined) return [];
  return clause.children.recall !== undefined || clause.children.precision !== undefined ? [Confidence] : [At];
}

/** The confidence spelt the other dialect's way: `FNR WITHIN a CONFIDENCE p`, `RECALL_TARGET r AT CONFIDENCE p`. */
function confidenceSpellingHint(found: IToken | undefined, cst: CstNode | undefined): string {
  const select = cst?.children.selectQuery?.[0] as CstNode | undefined;
  if (found === undefined || select === undefined) return '';
  const expected = confidenceContinuation(lastAccuracyClause(select));
  if (expected[0] === At && found.tokenType === Confidence) {
    return ' (after FNR WITHIN, FPR WITHIN and ERROR WITHIN write AT CONFIDENCE p)';
  }
  if (expected[0] === Confidence && found.tokenType === At) {
    return ' (after RECALL_TARGET and PRECISION_TARGET write CONFIDENCE p, without AT)';
  }
  return '';
}

function followingClauses(cst: CstNode | undefined): TokenType[] {
  if (cst === undefined) return [EOF];
  if (cst.children.Semicolon !== undefined) return [EOF];
  const select = cst.children.selectQuery?.[0] as CstNode | undefined;
  if (select === undefined) return [EOF];
  let last = -1;
  CLAUSE_ORDER.forEach(([key], i) => {
    if (select.children[key] !== undefined) last = i;
  });
  const out: TokenType[] = [];
  if (CLAUSE_ORDER[last]?.[0] === 'accuracyClause') out.push(...confidenceContinuation(lastAccuracyClause(select)));
  for (let i = Math.max(last, 0); i < CLAUSE_ORDER.length; i++) {
    if (i === last && i !== CLAUSE_ORDER.length - 1) continue;
    out.push(...CLAUSE_ORDER[i][1]);
  }
  out.push(Semicolon, EOF);
  return out;
}

/** The one `QueryError` for a failed parse, from the first error chevrotain collected. */
export function syntaxError(text: string, tokens: readonly IToken[], error: IRecognitionException, cst: CstNode | undefined): QueryError {
  let info: SyntaxErrorPayload;
  try {
    info = JSON.parse(error.message) as SyntaxErrorPayload;
  } catch {
    info = { expected: [], foundIndex: 0, ruleName: '' };
  }
  let token: IToken | undefined = error.token;
  if (info.foundIndex > 0) {
    // NoViableAlt / EarlyExit: chevrotain reports LA(1); the failure is `foundIndex` tokens on.
    const start = tokens.indexOf(error.token);
    if (start >= 0) token = tokens[start + info.foundIndex];
  }
  let expected = [...info.expected];
  if (info.redundant) expected = labels(followingClauses(cst));
  if (info.ruleName === 'selectQuery' && expected.length === 1 && expected[0] === 'SELECT') {
    // The optional EXPLAIN [ANALYZE] before SELECT is not in chevrotain's mismatch report.
    const index = tokens.indexOf(error.token);
    if (index === 0) expected = ['SELECT', 'EXPLAIN'];
    else if (index === 1 && tokens[0].tokenType === Explain) expected = ['ANALYZE', 'SELECT'];
  }

  const position = isEof(token) ? endOfText(text) : tokenStart(token!);
  const found = describeFound(token);
  const suggestions: string[] = [];
  let hint = '';
  if (!isEof(token) && token!.tokenType === Identifier) {
    const keywords = expected.filter((e) => /^[A-Z_]+( BY)?$/.test(e));
    const close = closestNames(token!.image, keywords.map((k) => k.replace(/ BY$/, '')), 1);
    if (close.length > 0) {
      suggestions.push(keywords.find((k) => k.replace(/ BY$/, '') === close[0])!);
      hint = didYouMean(suggestions, (s) => s);
    }
  } else if (!isEof(token) && KEYWORD_TOKENS.includes(token!.tokenType) && info.ruleName === 'videoSource') {
    hint = ` (${token!.image.toUpperCase()} is a reserved word: write "${token!.image}" to use it as a name)`;
  } else if (info.redundant) {
    hint = confidenceSpellingHint(token, cst);
  }
  const what =
    expected.length === 0 ? 'something else' : expected.length <= 2 ? listAlternatives(expected) : `one of ${listAlternatives(expected)}`;
  return queryError('SYNTAX_ERROR', position, `expected ${what} but found ${found}${hint}`, {
    found: isEof(token) ? END_OF_QUERY : token!.image,
    expected,
    suggestions,
  });
}

function describeCharacter(text: string, offset: number): { shown: string; char: string } {
  const code = text.codePointAt(offset) ?? 0;
  const char = String.fromCodePoint(code);
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  const printable = /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char);
  if (!printable) return { shown: hex, char };
  return { shown: code < 128 ? `'${char}'` : `'${char}' (${hex})`, char };
}

/** The one `QueryError` for a lexing failure (the first one in the text). */
export function lexError(text: string, error: ILexingError): QueryError {
  const position: SourcePosition = Object.freeze({ line: error.line ?? 1, column: error.column ?? 1, offset: error.offset });
  const c = text[error.offset];
  if (c === "'") {
    return queryError('UNTERMINATED_STRING', position, "unterminated string: close it with ' (write '' for a quote inside it)", {
      found: text.slice(error.offset, error.offset + 20),
      expected: ["'"],
    });
  }
  if (c === '"') {
    return queryError('UNTERMINATED_IDENTIFIER', position, 'unterminated quoted name: close it with "', {
      found: text.slice(error.offset, error.offset + 20),
      expected: ['"'],
    });
  }
  if (c === '/' && text[error.offset + 1] === '*') {
    return queryError('UNTERMINATED_COMMENT', position, 'unterminated comment: close it with */', {
      found: '/*',
      expected: ['*/'],
    });
  }
  const { shown, char } = describeCharacter(text, error.offset);
  let hint = '';
  if (char === '"' || char === '`') hint = "; strings use single quotes: 'car'";
  else if (char === '!') hint = '; write != for not equal';
  else if (char === '.') hint = "; quote file paths: FROM 'videos/traffic.mp4'";
  return queryError('LEX_ERROR', position, `unexpected character ${shown}${hint}`, { found: char, expected: [] });
}
