import { QueuePoolTimeoutError } from '../errors/queue-pool-timeout.error.js';

/**
 * SQLSTATEs that say the server cannot serve now, not that the statement was wrong: the same
 * statement later, or on the failover's new primary, is expected to succeed.
 */
const TRANSIENT_SQLSTATES = new Set([
  // The server is shutting down, restarting, starting up or in recovery, or ended the session.
  '57P01', // admin_shutdown (also pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '57P05', // idle_session_timeout
  // A failover left the address on a standby: writes are refused until it points at the primary.
  '25006', // read_only_sql_transaction
  // Conflicts a retry resolves: the other transaction has finished by then.
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (lockTimeoutMs)
  '57014', // query_canceled (statementTimeoutMs): the server was too slow this time
]);

/** SQLSTATE classes: 08 connection exception, 53 insufficient resources (53300 too many connections). */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08', '53']);

/** Node socket codes for a server that is down, unreachable or dropped the connection. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * What `pg` and `pg-pool` throw without a code when the connection is lost or never answered,
 * and what the queue connection throws once it is closed (at shutdown) or before it opened.
 */
const LOST_CONNECTION =
  /Connection terminated|Query read timeout|is not queryable|Cannot use a pool after calling end|the queue connection is not open/;

/**
 * Whether a database failure says "the database cannot serve now, try again later" rather than
 * "this statement is wrong": the server down, restarting, unreachable or out of connections, a
 * lost or silent connection, a pool timeout, a failover in progress, or a conflict (deadlock,
 * serialization failure, lock or statement timeout) that a retry resolves.
 *
 * The one owner of this rule: the HTTP filter answers 503 for these, and anything that retries
 * database work should ask here. Takes a `QueueDatabaseError` or the driver's own error.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (error instanceof QueuePoolTimeoutError) return true;
  const code = stringField(error, 'code');
  if (code !== undefined) {
    return (
      TRANSIENT_SQLSTATES.has(code) ||
      SOCKET_CODES.has(code) ||
      (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2)))
    );
  }
  // Code-less: the driver's text, on the error itself or on the one it wraps.
  const cause = error instanceof Error ? error.cause : undefined;
  return [error, cause].some((candidate) => {
    const message = stringField(candidate, 'message');
    return message !== undefined && LOST_CONNECTION.test(message);
  });
}

/** SQLSTATEs that say this server cannot serve this connection's writes any more. */
const SERVER_LOST_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006']);

/**
 * Whether a failure says the server itself went away or can no longer take writes (shut down,
 * unreachable, the connection lost, or read-only after a failover), as opposed to a conflict or a
 * timeout on a server that still serves: with several hosts, the writable one must be found again.
 * A subset of {@link isTransientDatabaseError}, built from the same lists.
 */
export function isServerLostError(error: unknown): boolean {
  const code = stringField(error, 'code');
  if (code !== undefined) {
    return SERVER_LOST_SQLSTATES.has(code) || SOCKET_CODES.has(code) || code.startsWith('08');
  }
  const cause = error instanceof Error ? error.cause : undefined;
  return [error, cause].some((candidate) => {
    const message = stringField(candidate, 'message');
    return message !== undefined && LOST_CONNECTION.test(message);
  });
}

function stringField(value: unknown, key: 'code' | 'message'): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const field = (value as Record<string, unknown>)[key];
  return typeof field === 'string' ? field : undefined;
}
