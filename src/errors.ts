/**
 * Every error Sieve raises on purpose is a {@link SieveError} with a stable `code`. Only the CLI
 * turns them into exit codes (`src/cli/exit-codes.ts`), by `category`.
 */
export type ErrorCategory = 'query' | 'input' | 'model' | 'storage' | 'runtime' | 'interrupted';

export class SieveError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  /** Extra structured facts for `--json` output and for tests. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, category: ErrorCategory, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
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
  readonly position: SourcePosition | undefined;
  readonly found: string | undefined;
  readonly expected: readonly string[];
  readonly suggestions: readonly string[];

  constructor(
    code: string,
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
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'input', message, details, options);
  }
}

/** A model that cannot be found, downloaded, verified or run. */
export class ModelError extends SieveError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'model', message, details, options);
  }
}

/** The catalog (DuckDB file) cannot be opened, read or written. */
export class StorageError extends SieveError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, 'storage', message, details, options);
  }
}

/** A run stopped by a signal or an abort; what was committed before stays valid. */
export class InterruptedError extends SieveError {
  constructor(message = 'the run was interrupted; labels written so far are kept and the next run resumes from them') {
    super('INTERRUPTED', 'interrupted', message);
  }
}
