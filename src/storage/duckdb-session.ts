/**
 * The one place that imports `@duckdb/node-api`. A {@link DuckDBSession} owns one database file
 * and one connection, serialises every statement through an async lock, and turns DuckDB's
 * errors into {@link StorageError}s that say which file and what to do.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  DuckDBInstance,
  DuckDBTimestampValue,
  INTEGER,
  LIST,
  blobValue,
  listValue,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  type JS,
} from '@duckdb/node-api';
import { StorageError } from '../errors.js';

/** A result row with DuckDB values converted to JS (INTEGER -> number, BIGINT -> bigint, TIMESTAMP -> Date). */
export type SqlRow = Record<string, JS>;

/** Positional (`?`) parameters, with an explicit DuckDB type where inference is not enough. */
export class SqlParams {
  readonly values: DuckDBValue[] = [];
  readonly types: DuckDBType[] = [];

  /** Adds a value and returns its placeholder. */
  add(value: DuckDBValue, type?: DuckDBType): string {
    if (type !== undefined) this.types[this.values.length] = type;
    this.values.push(value);
    return '?';
  }

  static of(...values: DuckDBValue[]): SqlParams {
    const params = new SqlParams();
    for (const value of values) params.add(value);
    return params;
  }
}

export const sqlValue = Object.freeze({
  timestamp(date: Date): DuckDBValue {
    return new DuckDBTimestampValue(BigInt(date.getTime()) * 1000n);
  },
  blob(bytes: Uint8Array): DuckDBValue {
    return blobValue(bytes);
  },
  integerList(items: ArrayLike<number>): [DuckDBValue, DuckDBType] {
    return [listValue(Array.from(items)), LIST(INTEGER)];
  },
});

export const IN_MEMORY = ':memory:';

export class DuckDBSession {
  private readonly lockOwner = new AsyncLocalStorage<true>();
  private queue: Promise<void> = Promise.resolve();
  private inTransaction = false;
  private closed = false;

  private constructor(
    /** The absolute path of the database file, or `:memory:`. */
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<DuckDBSession> {
    const absolute = path === IN_MEMORY ? path : resolve(path);
    if (absolute !== IN_MEMORY) {
      try {
        await mkdir(dirname(absolute), { recursive: true });
      } catch (error) {
        throw new StorageError(
          'CATALOG_UNWRITABLE',
          `cannot create the folder for the catalog "${absolute}" (${describe(error)}); pass a catalog path in a folder you can write to`,
          { path: absolute },
          { cause: error },
        );
      }
    }
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(absolute);
    } catch (error) {
      throw openError(absolute, error);
    }
    try {
      return new DuckDBSession(absolute, instance, await instance.connect());
    } catch (error) {
      instance.closeSync();
      throw openError(absolute, error);
    }
  }

  /**
   * Runs `fn` holding the session's lock, so that no other caller's statements interleave with
   * it. Calls made from inside `fn` (in its async context) run directly instead of waiting.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.lockOwner.getStore() === true) return fn();
    this.assertOpen();
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise<void>((r) => (release = r));
    await previous;
    try {
      this.assertOpen();
      return await this.lockOwner.run(true, fn);
    } finally {
      release();
    }
  }

  /**
   * Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws. A transaction
   * started inside another joins the outer one.
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      if (this.inTransaction) return fn();
      await this.run('BEGIN TRANSACTION');
      this.inTransaction = true;
      try {
        const result = await fn();
        await this.run('COMMIT');
        return result;
      } catch (error) {
        try {
          await this.connection.run('ROLLBACK');
        } catch {
          // A failed COMMIT has already rolled back; there is nothing left to undo.
        }
        throw error;
      } finally {
        this.inTransaction = false;
      }
    });
  }

  /** Executes a statement; returns the number of rows it changed. */
  run(sql: string, params: SqlParams = new SqlParams()): Promise<number> {
    return this.exclusive(async () => {
      try {
        const result = await this.connection.run(sql, params.values, params.types);
        return result.rowsChanged;
      } catch (error) {
        throw this.queryError(sql, error);
      }
    });
  }

  /** Executes a query and returns all its rows as JS objects. */
  all(sql: string, params: SqlParams = new SqlParams()): Promise<SqlRow[]> {
    return this.exclusive(async () => {
      try {
        const reader = await this.connection.runAndReadAll(sql, params.values, params.types);
        return reader.getRowObjectsJS();
      } catch (error) {
        throw this.queryError(sql, error);
      }
    });
  }

  /** Executes a query and returns its first column as JS values. */
  column(sql: string, params: SqlParams = new SqlParams()): Promise<JS[]> {
    return this.exclusive(async () => {
      try {
        const reader = await this.connection.runAndReadAll(sql, params.values, params.types);
        return reader.getColumnsJS()[0] ?? [];
      } catch (error) {
        throw this.queryError(sql, error);
      }
    });
  }

  /**
   * Executes a query and returns its columns as raw DuckDB values, the fast path for large
   * numeric results (INTEGER and DOUBLE columns come back as plain numbers).
   */
  columns(sql: string, params: SqlParams = new SqlParams()): Promise<DuckDBValue[][]> {
    return this.exclusive(async () => {
      try {
        const reader = await this.connection.runAndReadAll(sql, params.values, params.types);
        const columns = reader.getColumns();
        // An empty result has no chunks, hence no column arrays at all.
        return Array.from({ length: reader.columnCount }, (_, i) => columns[i] ?? []);
      } catch (error) {
        throw this.queryError(sql, error);
      }
    });
  }

  /**
   * Appends rows to `table` through DuckDB's appender, inside the caller's lock and transaction.
   * `fill` appends the rows; the appender is flushed and closed afterwards.
   */
  append(table: string, fill: (appender: DuckDBAppender) => void): Promise<void> {
    return this.exclusive(async () => {
      let appender: DuckDBAppender | undefined;
      try {
        appender = await this.connection.createAppender(table);
        fill(appender);
        appender.closeSync();
        appender = undefined;
      } catch (error) {
        if (appender !== undefined) {
          appender.clear();
          appender.closeSync();
        }
        throw error instanceof StorageError ? error : this.queryError(`append to ${table}`, error);
      }
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Waits for running statements, then closes the connection and the database. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.exclusive(async () => {
      this.closed = true;
      this.connection.closeSync();
      this.instance.closeSync();
    });
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new StorageError('CATALOG_CLOSED', `the catalog "${this.path}" is closed; open it again with Catalog.open()`, {
        path: this.path,
      });
    }
  }

  private queryError(sql: string, error: unknown): StorageError {
    const statement = sql.trim().split('\n')[0];
    return new StorageError('CATALOG_QUERY_FAILED', `catalog "${this.path}": ${describe(error)} (in: ${statement})`, {
      path: this.path,
      statement,
    }, { cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function openError(path: string, error: unknown): StorageError {
  const reason = describe(error);
  const details = { path, reason };
  if (/not a valid DuckDB database file|database file.*(corrupt|invalid)|Invalid DuckDB/i.test(reason)) {
    return new StorageError(
      'CATALOG_CORRUPT',
      `"${path}" is not a DuckDB database, or it is damaged; move it aside (Sieve creates a fresh catalog when the file does not exist) or pass another catalog path`,
      details,
      { cause: error },
    );
  }
  if (/Could not set lock|Conflicting lock/i.test(reason)) {
    const holder = /Conflicting lock is held in (.+?) \(PID (\d+)\)/.exec(reason);
    const who = holder ? `process ${holder[2]} (${holder[1]})` : 'another process';
    return new StorageError(
      'CATALOG_LOCKED',
      `the catalog "${path}" is in use by ${who}; wait for it to finish, or pass another catalog path`,
      details,
      { cause: error },
    );
  }
  if (/Permission denied|Read-only file system|EACCES|EROFS/i.test(reason)) {
    return new StorageError(
      'CATALOG_UNWRITABLE',
      `cannot write the catalog "${path}" (${reason}); check its permissions or pass a catalog path you can write to`,
      details,
      { cause: error },
    );
  }
  return new StorageError('CATALOG_OPEN_FAILED', `cannot open the catalog "${path}": ${reason}`, details, { cause: error });
}
