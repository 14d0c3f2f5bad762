import { type QueueConfig } from '../config/queue-config.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { QueuePoolTimeoutError } from '../errors/queue-pool-timeout.error.js';
import { QueueError } from '../errors/queue.error.js';

interface ErrorFields {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly detail?: unknown;
  readonly hint?: unknown;
  readonly constraint?: unknown;
}

/** What `toQueueDatabaseError` needs to know of the connection. */
export interface ErrorContext {
  readonly connectionTimeoutMs: number;
  /** The password of a connection the module owns, scrubbed from any text; none when shared. */
  readonly password?: string;
}

/** The error context of a configured connection: its timeout, and its password if it has one. */
export function errorContextOf(config: QueueConfig): ErrorContext {
  const { connection } = config;
  const password =
    connection.kind === 'owned' && typeof connection.config.password === 'string'
      ? connection.config.password
      : undefined;
  return {
    connectionTimeoutMs: config.connectionTimeoutMs,
    ...(password === undefined ? {} : { password }),
  };
}

/**
 * Turns whatever `pg` or `pg-pool` threw into a {@link QueueDatabaseError}. The password is scrubbed
 * from the text as a last line of defence, although neither library is known to include it.
 */
export function toQueueDatabaseError(
  operation: string,
  error: unknown,
  context: ErrorContext,
): QueueError {
  if (error instanceof QueueError) return error;
  const fields: ErrorFields = typeof error === 'object' && error !== null ? error : {};
  const message = typeof fields.message === 'string' ? fields.message : String(error);
  if (
    /timeout exceeded when trying to connect|Connection terminated due to connection timeout/i.test(
      message,
    )
  ) {
    return new QueuePoolTimeoutError(operation, context.connectionTimeoutMs, error);
  }
  const scrub = (text: string): string => scrubPassword(text, context.password);
  return new QueueDatabaseError(operation, scrub(message), {
    ...(typeof fields.code === 'string' ? { code: fields.code } : {}),
    ...(typeof fields.detail === 'string' ? { detail: scrub(fields.detail) } : {}),
    ...(typeof fields.hint === 'string' ? { hint: fields.hint } : {}),
    ...(typeof fields.constraint === 'string' ? { constraint: fields.constraint } : {}),
    cause: error,
  });
}

/**
 * A failed connection attempt, saying where it went (`target`: the URL without its password).
 * The message is built from the reason, so the error code is named once.
 */
export function couldNotConnect(typed: QueueError, cause: unknown, target: string): QueueError {
  if (!(typed instanceof QueueDatabaseError)) return typed;
  // PgBouncer's answer to the timeouts the module sends at connect.
  const hint = /unsupported startup parameter/i.test(typed.reason)
    ? ' (a pooler in transaction mode, such as PgBouncer? the module takes transactionPooling: true there; migrations need a direct URL)'
    : '';
  return new QueueDatabaseError(
    'connect',
    `could not connect to ${target}: ${typed.reason}${hint}`,
    {
      ...(typed.code === undefined ? {} : { code: typed.code }),
      cause,
    },
  );
}

/**
 * Replaces a password in free text. Very short passwords are left alone: scrubbing "ab" would
 * mangle every message while protecting nothing.
 */
export function scrubPassword(text: string, password: string | undefined): string {
  return password !== undefined && password.length >= 3 ? text.split(password).join('***') : text;
}
