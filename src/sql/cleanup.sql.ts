import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

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
