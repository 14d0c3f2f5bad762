import { MESSAGE_COLUMNS, NOW_SECONDS, notify, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

/**
 * Settles up to `limit` expired leases in one bounded statement. SKIP LOCKED makes it safe for
 * many replicas at once: each row is reaped by one of them, and a row a worker is settling right
 * now is left for the next run.
 *
 * An expired lease that was its leaser's last attempt (`attempts >= max_attempts`) becomes a dead
 * letter, as the worker would have made it: moved to `dead_letter_queue` with fresh attempts, or
 * `failed` in place. Any other goes back to `ready`, keeping `available_at`, so it returns to the
 * head of its queue. Returns one row per (queue, new state) with its count; workers of queues
 * that got messages back are notified.
 */
export function reapExpiredLeasesSql(t: QueueTableNames, limit: number): SqlStatement {
  const exhausted = 'm.max_attempts IS NOT NULL AND m.attempts >= m.max_attempts';
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
  SET state = CASE WHEN ${exhausted} AND m.dead_letter_queue IS NULL THEN 'failed' ELSE 'ready' END,
      queue = CASE WHEN ${moved} THEN m.dead_letter_queue ELSE m.queue END,
      origin_queue = CASE WHEN ${moved} THEN m.queue ELSE m.origin_queue END,
      attempts = CASE WHEN ${moved} THEN 0 ELSE m.attempts END,
      available_at = CASE WHEN ${moved} THEN ${NOW_SECONDS} ELSE m.available_at END,
      last_error = CASE WHEN ${exhausted} THEN jsonb_build_object(
        'name', 'AttemptsExhaustedError',
        'message', 'the lease of the last allowed attempt expired (worker crashed or stalled)',
        'attempt', m.attempts,
        'failedAt', ${NOW_SECONDS}) ELSE m.last_error END,
      lease_until = NULL,
      lease_token = NULL
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM expired))
  -- A lease's dead-letter queue always differs from its queue, so only a move makes them equal.
  RETURNING m.queue, m.state, (m.state = 'ready' AND m.queue = m.dead_letter_queue) AS moved
)
SELECT queue, state, moved, count(*)::integer AS count,
  (SELECT count(${notify('$2', 'due.queue')}) FROM (SELECT DISTINCT queue FROM reaped WHERE state = 'ready') AS due) AS notified
FROM reaped
GROUP BY queue, state, moved`,
    values: [limit, t.channel],
  };
}

/**
 * Deletes up to `limit` `done` messages created more than `olderThanSeconds` ago. Moved dead
 * letters (`origin_queue` set) are failures, kept for the archive instead.
 */
export function deleteOldDoneSql(
  t: QueueTableNames,
  olderThanSeconds: number,
  limit: number,
): SqlStatement {
  return {
    text: `WITH old AS MATERIALIZED (
  SELECT ctid FROM ${t.qualified}
  WHERE state = 'done' AND origin_queue IS NULL AND created_at < ${NOW_SECONDS} - $1::bigint
  LIMIT $2::integer
  FOR UPDATE SKIP LOCKED
)
DELETE FROM ${t.qualified} WHERE ctid = ANY (ARRAY(SELECT ctid FROM old))`,
    values: [olderThanSeconds, limit],
  };
}

/**
 * Moves up to `limit` dead letters created more than `olderThanSeconds` ago into the archive:
 * `failed` ones, and moved ones their dead-letter queue has finished. Delete and insert are one
 * statement, so one transaction: a row is never in both tables, nor in neither.
 */
export function archiveOldFailedSql(
  t: QueueTableNames,
  olderThanSeconds: number,
  limit: number,
): SqlStatement {
  return {
    text: `WITH old AS MATERIALIZED (
  SELECT ctid FROM ${t.qualified}
  WHERE (state = 'failed' OR (origin_queue IS NOT NULL AND state = 'done'))
    AND created_at < ${NOW_SECONDS} - $1::bigint
  LIMIT $2::integer
  FOR UPDATE SKIP LOCKED
), moved AS (
  DELETE FROM ${t.qualified} WHERE ctid = ANY (ARRAY(SELECT ctid FROM old)) RETURNING *
)
INSERT INTO ${t.qualifiedArchive} SELECT * FROM moved`,
    values: [olderThanSeconds, limit],
  };
}

/**
 * Per queue: ready messages (counted up to `countLimit`) and the age of the oldest one due, leased
 * ones and how many of those have expired, failed ones.
 *
 * Counting a backlog of a million rows costs hundreds of milliseconds whatever the plan, too much
 * for a probe polled every few seconds. So the ready part walks the partial ready index: a loose
 * index scan finds each queue (one index probe per queue), the count stops at `countLimit`, and
 * the oldest due message is the first index entry of its queue. Its cost follows the number of
 * queues, not the depth. Leased rows are bounded by the workers' concurrency; failed rows by the
 * cleanup's retention.
 */
export function queueDepthSql(t: QueueTableNames, countLimit: number): SqlStatement {
  return {
    text: `WITH RECURSIVE ready_queues AS (
  (SELECT queue FROM ${t.qualified} WHERE state = 'ready' ORDER BY queue LIMIT 1)
  UNION ALL
  SELECT (SELECT m.queue FROM ${t.qualified} AS m
          WHERE m.state = 'ready' AND m.queue > r.queue ORDER BY m.queue LIMIT 1)
  FROM ready_queues AS r WHERE r.queue IS NOT NULL
)
SELECT r.queue, 'ready' AS state, counted.count,
  CASE WHEN oldest.available_at <= ${NOW_SECONDS} THEN ${NOW_SECONDS} - oldest.available_at ELSE 0 END
    AS oldest_due_age,
  0::bigint AS expired
FROM ready_queues AS r
CROSS JOIN LATERAL (
  SELECT count(*)::bigint AS count FROM (
    SELECT 1 FROM ${t.qualified} AS m WHERE m.queue = r.queue AND m.state = 'ready' LIMIT $1::integer
  ) AS capped
) AS counted
CROSS JOIN LATERAL (
  SELECT m.available_at FROM ${t.qualified} AS m
  WHERE m.queue = r.queue AND m.state = 'ready'
  ORDER BY m.available_at, m.seq LIMIT 1
) AS oldest
WHERE r.queue IS NOT NULL
UNION ALL
SELECT queue, 'leased', count(*), NULL, count(*) FILTER (WHERE lease_until <= ${NOW_SECONDS})
FROM ${t.qualified} WHERE state = 'leased' GROUP BY queue
UNION ALL
SELECT queue, 'failed', count(*), NULL, 0 FROM ${t.qualified} WHERE state = 'failed' GROUP BY queue`,
    values: [countLimit],
  };
}

/** Counts per queue and state; `moved` counts dead letters moved here that are not yet done. */
export function statsSql(t: QueueTableNames): SqlStatement {
  return {
    text: `SELECT queue, state, count(*)::bigint AS count,
  count(*) FILTER (WHERE origin_queue IS NOT NULL AND state IN ('ready', 'leased'))::bigint AS moved
FROM ${t.qualified} GROUP BY queue, state`,
    values: [],
  };
}

export function clearQueueSql(
  t: QueueTableNames,
  queue: string,
  state: string | undefined,
): SqlStatement {
  return state === undefined
    ? { text: `DELETE FROM ${t.qualified} WHERE queue = $1::text`, values: [queue] }
    : {
        text: `DELETE FROM ${t.qualified} WHERE queue = $1::text AND state = $2::text`,
        values: [queue, state],
      };
}

export function deleteMessageSql(t: QueueTableNames, id: string): SqlStatement {
  return { text: `DELETE FROM ${t.qualified} WHERE id = $1::text`, values: [id] };
}

/**
 * Dead letters of a queue: messages that failed in it (`failed`), and those moved from it to a
 * dead-letter queue (`origin_queue`), oldest first.
 */
export function listFailedSql(t: QueueTableNames, queue: string, limit: number): SqlStatement {
  return {
    text: `SELECT ${MESSAGE_COLUMNS} FROM ${t.qualified}
WHERE (queue = $1::text AND state = 'failed') OR origin_queue = $1::text
ORDER BY seq
LIMIT $2::integer`,
    values: [queue, limit],
  };
}

/**
 * Puts dead letters of `queue` back into it, due now with fresh attempts; all of them, or those
 * whose id is in `ids`. A moved dead letter that its dead-letter queue's processor holds right
 * now (`leased`) is left alone.
 */
export function retryFailedSql(
  t: QueueTableNames,
  queue: string,
  ids: readonly string[] | undefined,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET queue = $1::text, origin_queue = NULL, state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL
WHERE ((queue = $1::text AND state = 'failed') OR (origin_queue = $1::text AND state <> 'leased'))
  ${ids === undefined ? '' : 'AND id = ANY($3::text[])'}
RETURNING ${notify('$2', '$1::text')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}
