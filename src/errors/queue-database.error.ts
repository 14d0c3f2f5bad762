import { QueueError } from './queue.error.js';

/** The server's description of a failed statement, as far as it gave one. */
export interface QueueDatabaseErrorDetails {
  /** The Postgres SQLSTATE (`23505`, `57P01`, …) or a Node socket code (`ECONNREFUSED`). */
  readonly code?: string;
  readonly detail?: string;
  readonly hint?: string;
  readonly constraint?: string;
  readonly cause?: unknown;
}

/**
 * A statement or connection failed in the database. Carries the queue operation that failed and
 * the Postgres `code`, so callers can decide whether to retry. Never contains a password.
 */
export class QueueDatabaseError extends QueueError {
  /** The Postgres SQLSTATE or Node socket error code, when known. */
  readonly code: string | undefined;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly constraint: string | undefined;

  constructor(
    /** The queue operation that failed, e.g. `enqueue` or `leaseNext`. */
    readonly operation: string,
    /**
     * What went wrong, without the operation and the code the message adds around it: an error
     * that wraps this one builds its own message from `reason`, so the code is named once.
     */
    readonly reason: string,
    details: QueueDatabaseErrorDetails = {},
  ) {
    super(
      `Queue ${operation} failed: ${reason}${details.code ? ` (code ${details.code})` : ''}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    );
    this.code = details.code;
    this.detail = details.detail;
    this.hint = details.hint;
    this.constraint = details.constraint;
  }
}
