import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

/**
 * Returns up to `limit` expired leases to `ready`. SKIP LOCKED makes it safe for many replicas to
 * run at once: each row is reaped by one of them, and a row a worker is settling right now is
 * left for the next run. `available_at` is kept, so a reaped message goes back to the head.
 */
export function reapExpiredLeasesSql(t: QueueTableNames, limit: number): SqlStatement {
  return {
    text: `WITH expired AS MATERIALIZED (
  SELECT id FROM ${t.qualified}
  WHERE state = 'leased' AND lease_until <= ${NOW_SECONDS}
  ORDER BY lease_until
  LIMIT $1::integer
  FOR UPDATE SKIP LOCKED
)
UPDATE ${t.qualified} AS m
SET state = 'ready', lease_until = NULL, lease_token = NULL
FROM expired
WHERE m.id = expired.id`,
    values: [limit],
  };
}

export function statsSql(t: QueueTableNames): SqlStatement {
  return {
    text: `SELECT queue, state, count(*)::bigint AS count FROM ${t.qualified} GROUP BY queue, state`,
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
