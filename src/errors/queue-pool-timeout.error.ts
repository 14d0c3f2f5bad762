import { QueueDatabaseError } from './queue-database.error.js';

/**
 * No pooled connection became free within `connectionTimeoutMs`. The pool is saturated or the
 * server does not answer; the statement was never sent, so retrying it is safe.
 */
export class QueuePoolTimeoutError extends QueueDatabaseError {
  constructor(
    operation: string,
    /** How long the caller waited, in milliseconds. */
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(
      operation,
      `no database connection became available within ${timeoutMs} ms; the pool is saturated (raise poolMaxSize or lower concurrency) or the server is unreachable`,
      { code: 'POOL_TIMEOUT', cause },
    );
  }
}
