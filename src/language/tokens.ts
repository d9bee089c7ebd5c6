import { createToken, Lexer, type TokenType } from 'chevrotain';

/** Plain (unquoted) identifiers: ASCII letters, digits and underscores, not starting with a digit. */
export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'identifier' });

const keywordTokens: TokenType[] = [];

function keyword(word: string, name = word.charAt(0) + word.slice(1).toLowerCase()): TokenType {
  const token = createToken({
    name,
    pattern: new RegExp(word, 'i'),
    longer_alt: Identifier,
    label: word,
  });
  keywordTokens.push(token);
  return token;
}

export const Select = keyword('SELECT');
export const From = keyword('FROM');
export const Where = keyword('WHERE');
export const Group = keyword('GROUP');
export const By = keyword('BY');
export const Having = keyword('HAVING');
export const Order = keyword('ORDER');
export const Asc = keyword('ASC');
export const Desc = keyword('DESC');
export const Limit = keyword('LIMIT');
export const Gap = keyword('GAP');
export const Fnr = keyword('FNR');
export const Fpr = keyword('FPR');
export const RecallTarget = keyword('RECALL_TARGET', 'RecallTarget');
export const PrecisionTarget = keyword('PRECISION_TARGET', 'PrecisionTarget');
export const ErrorKeyword = keyword('ERROR');
export const Budget = keyword('BUDGET');
export const Within = keyword('WITHIN');
export const At = keyword('AT');
export const Confidence = keyword('CONFIDENCE');
export const Explain = keyword('EXPLAIN');
export const Analyze = keyword('ANALYZE');
export const And = keyword('AND');
export const Or = keyword('OR');
export const Not = keyword('NOT');
export const Between = keyword('BETWEEN');
export const In = keyword('IN');
export const Distinct = keyword('DISTINCT');

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v]+/, group: Lexer.SKIPPED, line_breaks: true });
export const LineComment = createToken({ name: 'LineComment', pattern: /--[^\r\n]*/, group: Lexer.SKIPPED });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: Lexer.SKIPPED, line_breaks: true });
/** A `/*` never closed: kept aside in the `unterminated` group and reported as an error. */
export const UnterminatedComment = createToken({ name: 'UnterminatedComment', pattern: /\/\*[\s\S]*/, group: 'unterminated', line_breaks: true });

/** `"name"`: an identifier that may contain anything, `""` escapes a double quote. */
export const QuotedIdentifier = createToken({ name: 'QuotedIdentifier', pattern: /"(?:[^"]|"")*"/, line_breaks: true, label: 'quoted identifier' });
/** `'text'`, `''` escapes a single quote. */
export const StringLiteral = createToken({ name: 'StringLiteral', pattern: /'(?:[^']|'')*'/, line_breaks: true, label: 'string' });
export const NumberLiteral = createToken({ name: 'NumberLiteral', pattern: /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/, label: 'number' });

export const NotEquals = createToken({ name: 'NotEquals', pattern: /!=|<>/, label: "'!='" });
export const LessEquals = createToken({ name: 'LessEquals', pattern: /<=/, label: "'<='" });
export const GreaterEquals = createToken({ name: 'GreaterEquals', pattern: />=/, label: "'>='" });
export const Less = createToken({ name: 'Less', pattern: /</, label: "'<'" });
export const Greater = createToken({ name: 'Greater', pattern: />/, label: "'>'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const Percent = createToken({ name: 'Percent', pattern: /%/, label: "'%'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Semicolon = createToken({ name: 'Semicolon', pattern: /;/, label: "';'" });

/** The keywords of FrameQL (reserved: quote them as `"name"` to use them as identifiers). */
export const KEYWORD_TOKENS: readonly TokenType[] = Object.freeze([...keywordTokens]);

/** Upper-case spelling of every reserved word. */
export const RESERVED_WORDS: ReadonlySet<string> = new Set(keywordTokens.map((t) => t.LABEL as string));

/** Lexer order matters: comments before `-` and `/`, two-character operators before one-character ones. */
export const ALL_TOKENS: readonly TokenType[] = Object.freeze([
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedComment,
  ...keywordTokens,
  Identifier,
  QuotedIdentifier,
  StringLiteral,
  NumberLiteral,
  NotEquals,
  LessEquals,
  GreaterEquals,
  Less,
  Greater,
  Equals,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  LParen,
  RParen,
  Comma,
  Semicolon,
]);

export const COMPARISON_TOKENS: readonly TokenType[] = Object.freeze([Equals, NotEquals, Less, LessEquals, Greater, GreaterEquals]);

/** One lexer instance, reused. */
export const frameQLLexer = new Lexer([...ALL_TOKENS], { positionTracking: 'full', ensureOptimizations: true });
