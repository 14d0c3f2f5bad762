import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * The groups of `queue` that an ordered processor (`groupConcurrency: 1`) cannot take from now,
 * in key order, up to `limit`: `deadLetter` (a dead letter in place belongs to it; `at` is when
 * it failed) and `waiting` (its oldest ready message is not due: a retry's backoff, a snooze or a
 * delay; `at` is when it is due). A group merely running its current message is not listed.
 *
 * An operator's query: it reads every grouped message of the queue in the group index.
 */
export function blockedGroupsSql(t: QueueTableNames, queue: string, limit: number): SqlStatement {
  const grouped = `queue = $1::text AND group_key IS NOT NULL`;
  return {
    text: `WITH dead AS (
  SELECT DISTINCT ON (group_key) group_key, id,
    coalesce((last_error->>'failedAt')::bigint, created_at) AS at
  FROM ${t.qualified} WHERE ${grouped} AND state = 'failed'
  ORDER BY group_key, seq
), heads AS (
  SELECT DISTINCT ON (group_key) group_key, id, available_at AS at
  FROM ${t.qualified} WHERE ${grouped} AND state = 'ready'
  ORDER BY group_key, seq
)
SELECT group_key, reason, id, at FROM (
  SELECT group_key, 'deadLetter' AS reason, id, at FROM dead
  UNION ALL
  SELECT h.group_key, 'waiting', h.id, h.at FROM heads AS h
  WHERE h.at > ${NOW_SECONDS} AND NOT EXISTS (SELECT 1 FROM dead AS d WHERE d.group_key = h.group_key)
) AS blocked
ORDER BY group_key
LIMIT $2::integer`,
    values: [queue, limit],
  };
}

/**
 * Releases a group held back by dead letters: they stay dead letters (`listFailed`,
 * `retryFailed`) but leave the group, so its next message may go. The key they had is kept in
 * their `last_error` as `releasedFromGroup`.
 */
export function releaseGroupSql(t: QueueTableNames, queue: string, groupKey: string): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET group_key = NULL,
    last_error = coalesce(last_error, '{}'::jsonb) || jsonb_build_object('releasedFromGroup', group_key)
WHERE queue = $1::text AND group_key = $2::text AND state = 'failed'`,
    values: [queue, groupKey],
  };
}
