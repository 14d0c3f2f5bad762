import { QueueError } from './queue.error.js';

/**
 * A SQLite file could not be read: it is missing, not a SQLite database, damaged, or in a form
 * the package's reader does not handle (a write-ahead log not yet checkpointed, a WITHOUT ROWID
 * table, UTF-16 text). The message says which, and what to do.
 */
export class SqliteReadError extends QueueError {
  constructor(
    /** The file as the caller named it. */
    readonly file: string,
    /** What is wrong, and what to do about it. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot read ${file}: ${reason}`, options);
  }
}
