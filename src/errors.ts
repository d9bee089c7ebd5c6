/**
 * Every error Sieve raises on purpose is a {@link SieveError} with a stable `code`. Only the CLI
 * turns them into exit codes (`src/cli/exit-codes.ts`), by `category`.
 */
export type ErrorCategory = 'query' | 'input' | 'model' | 'storage' | 'runtime' | 'interrupted';

/** Every code a FrameQL {@link QueryError} can carry, from lexing to binding. */
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

/** Codes of a {@link VideoError}: the input file, its decoding, or replayed labels. */
export type VideoErrorCode =
  | 'VIDEO_NOT_FOUND'
  | 'VIDEO_INVALID'
  | 'VIDEO_UNREADABLE'
  | 'VIDEO_EMPTY'
  | 'VIDEO_DECODE_FAILED'
  | 'VIDEO_DECODE_SHORT'
  | 'VIDEO_FRAME_UNMATCHED'
  | 'VIDEO_SEEK_MISMATCH'
  | 'DECODE_BAD_RANGE'
  | 'DECODE_BAD_SIZE'
  | 'DECODE_MODE_UNSUPPORTED'
  | 'FFMPEG_NOT_FOUND'
  | 'REPLAY_LABELS_MISSING';

/** Codes of a {@link ModelError}: finding, downloading, verifying or running a model. */
export type ModelErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_UNKNOWN'
  | 'MODEL_UNAVAILABLE'
  | 'MODEL_CHECKSUM'
  | 'MODEL_INVALID'
  | 'MODEL_INPUT_MISSING'
  | 'MODEL_SHAPE_MISMATCH'
  | 'MODEL_MANIFEST_INVALID'
  | 'MODEL_MANIFEST_MISSING'
  | 'MODEL_REGISTRY'
  | 'MODEL_OPTIONS'
  | 'MODEL_NO_PROVIDER'
  | 'MODEL_DISPOSED'
  | 'MODEL_WORKER';

/** Codes of a {@link StorageError}: the catalog file and what it holds. */
export type StorageErrorCode =
  | 'CATALOG_OPEN_FAILED'
  | 'CATALOG_LOCKED'
  | 'CATALOG_CORRUPT'
  | 'CATALOG_NOT_SIEVE'
  | 'CATALOG_TOO_NEW'
  | 'CATALOG_UNWRITABLE'
  | 'CATALOG_CLOSED'
  | 'CATALOG_QUERY_FAILED'
  | 'VIDEO_NOT_FOUND'
  | 'VIDEO_NAME_INVALID'
  | 'VIDEO_NAME_TAKEN'
  | 'MODEL_NOT_FOUND'
  | 'LABELS_INVALID';

/** Codes raised as a plain {@link SieveError}: run history and index options. */
export type OtherErrorCode = 'RUN_NOT_FOUND' | 'BAD_RUN_ID' | 'UNKNOWN_CLASS' | 'INTERRUPTED';

/** Every code a {@link SieveError} can carry; match on it rather than on messages. */
export type ErrorCode = QueryErrorCode | VideoErrorCode | ModelErrorCode | StorageErrorCode | OtherErrorCode;

/**
 * The base of every error Sieve raises on purpose.
 *
 * @example
 * ```ts
 * try {
 *   await engine.query(sql, { videos: { traffic: 'traffic.mp4' } });
 * } catch (error) {
 *   if (error instanceof QueryError) console.error(error.message, error.suggestions); // line 1, column 8: ...
 *   else if (error instanceof SieveError && error.code === 'VIDEO_NOT_FOUND') console.error('no such file');
 *   else throw error;
 * }
 * ```
 */
export class SieveError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  /** Extra structured facts for `--json` output and for tests. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, category: ErrorCategory, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.category = category;
    this.details = Object.freeze({ ...details });
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, category: this.category, message: this.message, ...this.details };
  }
}

/** Where in the query text an error was found (1-based line and column). */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** A FrameQL query that cannot be lexed, parsed or bound. */
export class QueryError extends SieveError {
  declare readonly code: QueryErrorCode;
  readonly position: SourcePosition | undefined;
  readonly found: string | undefined;
  readonly expected: readonly string[];
  readonly suggestions: readonly string[];

  constructor(
    code: QueryErrorCode,
    message: string,
    info: { position?: SourcePosition; found?: string; expected?: readonly string[]; suggestions?: readonly string[] } = {},
  ) {
    super(code, 'query', message, {
      line: info.position?.line,
      column: info.position?.column,
      found: info.found,
      expected: info.expected ?? [],
      suggestions: info.suggestions ?? [],
    });
    this.position = info.position;
    this.found = info.found;
    this.expected = info.expected ?? [];
    this.suggestions = info.suggestions ?? [];
  }
}

/** A missing, unreadable, truncated or non-video input file. */
export class VideoError extends SieveError {
  declare readonly code: VideoErrorCode;
  constructor(code: VideoErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'input', message, details, options);
  }
}

/** A model that cannot be found, downloaded, verified or run. */
export class ModelError extends SieveError {
  declare readonly code: ModelErrorCode;
  constructor(code: ModelErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'model', message, details, options);
  }
}

/** The catalog (DuckDB file) cannot be opened, read or written. */
export class StorageError extends SieveError {
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'storage', message, details, options);
  }
}

/** A run stopped by a signal or an abort; what was committed before stays valid. */
export class InterruptedError extends SieveError {
  constructor(message = 'the run was interrupted; labels written so far are kept and the next run resumes from them') {
    super('INTERRUPTED', 'interrupted', message);
  }
}
