import { describeError } from '../errors/describe-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QueuePoolTimeoutError } from '../errors/queue-pool-timeout.error.js';

/** What a probe's own deadline rejects with. */
export function notInTime(timeoutMs: number): string {
  return `the database did not answer within ${timeoutMs} ms`;
}

/**
 * What a probe's answer may say about a failure: a fixed phrase and the error code. The driver's
 * own text can name the host, the port, the role or the database, which an unauthenticated
 * health endpoint must not hand out; the caller logs `describeError(error)` instead.
 */
export function failureReason(error: unknown, timeoutMs: number): string {
  const detail = describeError(error);
  if (error instanceof QueuePoolTimeoutError) {
    return 'no database connection became available in time';
  }
  // The probe's own deadline, or the statement's (a query or statement timeout).
  if (detail === notInTime(timeoutMs) || /timeout/i.test(detail)) return notInTime(timeoutMs);
  const code = error instanceof QueueDatabaseError ? error.code : undefined;
  return code === undefined
    ? 'the database check failed'
    : `the database check failed (code ${code})`;
}
