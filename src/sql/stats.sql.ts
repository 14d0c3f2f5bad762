import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Per queue: ready messages (counted up to `countLimit`) and the age of the oldest one due, leased
 * ones and how many of those have expired, failed ones; and which queues are paused for every
 * replica (a row of state `paused`).
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
SELECT queue, 'failed', count(*), NULL, 0 FROM ${t.qualified} WHERE state = 'failed' GROUP BY queue
UNION ALL
SELECT queue, 'paused', 0, NULL, 0 FROM ${t.qualifiedQueues} WHERE paused`,
    values: [countLimit],
  };
}

/**
 * Counts per queue and state, of every queue or of `queue` only. `moved` counts dead letters
 * moved here that are not yet done; `due` the ready messages a worker may lease now, by the
 * database's clock (the rest wait out a delay, a backoff or a snooze). For one queue, a last row
 * without queue or state counts its dead letters moved out to a dead-letter queue and not yet
 * done there, so its `failedMessages` counts what `listFailed(queue)` lists as not dealt with.
 */
export function statsSql(t: QueueTableNames, queue?: string): SqlStatement {
  const counts = `SELECT queue, state, count(*)::bigint AS count,
  count(*) FILTER (WHERE origin_queue IS NOT NULL AND state IN ('ready', 'leased'))::bigint AS moved,
  count(*) FILTER (WHERE state = 'ready' AND available_at <= ${NOW_SECONDS})::bigint AS due
FROM ${t.qualified}${queue === undefined ? '' : ' WHERE queue = $1::text'}
GROUP BY queue, state`;
  if (queue === undefined) return { text: counts, values: [] };
  return {
    text: `${counts}
UNION ALL
SELECT NULL, NULL, 0, count(*)::bigint, 0 FROM ${t.qualified}
WHERE origin_queue = $1::text AND queue <> $1::text AND state IN ('ready', 'leased')`,
    values: [queue],
  };
}

/** The cheapest statement that proves the database answers. */
export function pingSql(): SqlStatement {
  return { text: 'SELECT 1', values: [] };
}
