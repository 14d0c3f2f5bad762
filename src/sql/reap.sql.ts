import { AttemptsExhaustedError } from '../errors/attempts-exhausted.error.js';
import { NOW_SECONDS, notify, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Settles up to `limit` expired leases in one bounded statement. SKIP LOCKED makes it safe for
 * many replicas at once: each row is reaped by one of them, and a row a worker is settling right
 * now is left for the next run.
 *
 * An expired lease that was its leaser's last attempt (`attempts >= max_attempts`) becomes a dead
 * letter, as the worker would have made it: moved to `dead_letter_queue` with fresh attempts, or
 * `failed` in place. Any other goes back to `ready`, keeping `available_at`, so it returns to the
 * head of its queue. An expired lease whose cancel was requested (its worker died before it could
 * abort it) becomes `cancelled`, whatever its attempts. Returns one row per (queue, new state)
 * with its count and its ids (for the `stalled` events; a batch is bounded by `limit`, so the
 * array stays small), and for moved rows the queue they failed in; workers of queues that got
 * messages back are notified.
 */
export function reapExpiredLeasesSql(t: QueueTableNames, limit: number): SqlStatement {
  const cancelled = 'm.cancel_requested_at IS NOT NULL';
  const exhausted = `NOT (${cancelled}) AND m.max_attempts IS NOT NULL AND m.attempts >= m.max_attempts`;
  const moved = `${exhausted} AND m.dead_letter_queue IS NOT NULL`;
  return {
    text: `WITH expired AS MATERIALIZED (
  SELECT ctid FROM ${t.qualified}
  WHERE state = 'leased' AND lease_until <= ${NOW_SECONDS}
  ORDER BY lease_until
  LIMIT $1::integer
  FOR UPDATE SKIP LOCKED
), reaped AS (
  UPDATE ${t.qualified} AS m
  SET state = CASE WHEN ${cancelled} THEN 'cancelled'
        WHEN ${exhausted} AND m.dead_letter_queue IS NULL THEN 'failed' ELSE 'ready' END,
      queue = CASE WHEN ${moved} THEN m.dead_letter_queue ELSE m.queue END,
      origin_queue = CASE WHEN ${moved} THEN m.queue ELSE m.origin_queue END,
      attempts = CASE WHEN ${moved} THEN 0 ELSE m.attempts END,
      available_at = CASE WHEN ${moved} THEN ${NOW_SECONDS} ELSE m.available_at END,
      last_error = CASE WHEN ${exhausted} THEN jsonb_build_object(
        'name', $3::text,
        'message', 'the lease of the last allowed attempt expired (worker crashed or stalled)',
        'attempt', m.attempts,
        'failedAt', ${NOW_SECONDS}) ELSE m.last_error END,
      lease_until = NULL,
      lease_token = NULL
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM expired))
  -- A lease's dead-letter queue always differs from its queue, so only a move makes them equal.
  RETURNING m.id, m.queue, m.state, m.origin_queue,
    (m.state = 'ready' AND m.queue = m.dead_letter_queue) AS moved
)
SELECT queue, state, moved, CASE WHEN moved THEN origin_queue END AS from_queue,
  count(*)::integer AS count, array_agg(id) AS ids,
  (SELECT count(${notify('$2', 'due.queue')}) FROM (SELECT DISTINCT queue FROM reaped WHERE state = 'ready') AS due) AS notified
FROM reaped
GROUP BY queue, state, moved, CASE WHEN moved THEN origin_queue END`,
    values: [limit, t.channel, AttemptsExhaustedError.name],
  };
}
