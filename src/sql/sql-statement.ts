/** A parameterised statement, in the shape `pg` accepts. */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * The database's clock in whole epoch seconds, rounded down. Every time comparison uses the
 * server's clock: workers on hosts whose clocks drift must still agree on what is due.
 *
 * Comparisons stay bigint against bigint so the indexes on `available_at` and `lease_until` apply;
 * since those columns hold whole seconds, `col <= floor(now)` is the same as `col <= now`.
 */
export const NOW_SECONDS = 'floor(extract(epoch from now()))::bigint';

/**
 * The epoch second at which something delayed by `seconds` (an integer parameter) becomes due.
 * Rounded up, so a delay or a lease is never shorter than asked; zero means due at once.
 */
export function secondsFromNow(seconds: string): string {
  return `(CASE WHEN ${seconds} = 0 THEN ${NOW_SECONDS} ELSE ceil(extract(epoch from now()) + ${seconds})::bigint END)`;
}

/** The columns a message is read back with (the store's `MessageRow`). */
export const MESSAGE_COLUMNS =
  'id, queue, body, attempts, state, available_at, lease_until, created_at, lease_token, last_error, origin_queue';

/**
 * Wakes the workers listening on the table's channel; the payload is the queue name. Postgres
 * delivers it at commit and folds identical notifications of one transaction into one.
 */
export function notify(channelParameter: string, queueExpression: string): string {
  return `pg_notify(${channelParameter}::text, ${queueExpression})`;
}
