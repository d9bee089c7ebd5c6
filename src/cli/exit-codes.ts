/** The command line's exit codes: the CLI's concern, not the library's. */
import { SieveError, type ErrorCategory } from '../errors.js';

/** Exit codes by error category (README 'The command line'). */
export const EXIT_CODES: Readonly<Record<ErrorCategory | 'internal', number>> = Object.freeze({
  query: 2,
  input: 3,
  model: 4,
  storage: 5,
  runtime: 6,
  interrupted: 130,
  internal: 70,
});

export function exitCodeFor(error: unknown): number {
  return error instanceof SieveError ? EXIT_CODES[error.category] : EXIT_CODES.internal;
}
