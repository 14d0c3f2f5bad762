import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Deletes up to `limit` `done` and `cancelled` messages created more than `olderThanSeconds` ago.
 * Moved dead letters that are `done` (`origin_queue` set) are failures, kept for the archive
 * instead; a cancelled one was given up on, and goes.
 */
export function deleteOldDoneSql(
  t: QueueTableNames,
  olderThanSeconds: number,
  limit: number,
): SqlStatement {
  return {
    text: `WITH old AS MATERIALIZED (
  SELECT ctid FROM ${t.qualified}
  WHERE (state = 'cancelled' OR (state = 'done' AND origin_queue IS NULL)) AND created_at < ${NOW_SECONDS} - $1::bigint
  LIMIT $2::integer
  FOR UPDATE SKIP LOCKED
)
DELETE FROM ${t.qualified} WHERE ctid = ANY (ARRAY(SELECT ctid FROM old))`,
    values: [olderThanSeconds, limit],
  };
}

/**
 * The archive's columns after `id`, in table order: the queue table's, then `archived_at`. A
 * migration that adds a column to the queue table adds it to the archive and here: the Python
 * backend's `INSERT INTO messages_archive SELECT * FROM messages` matches columns by position.
 */
export const ARCHIVE_COLUMNS = [
  'queue',
  'body',
  'available_at',
  'lease_until',
  'attempts',
  'state',
  'created_at',
  'seq',
  'lease_token',
  'last_error',
  'origin_queue',
  'max_attempts',
  'dead_letter_queue',
  'priority',
  'unique_key',
  'unique_scope',
  'unique_window',
  'group_key',
  'leased_at',
  'cancel_requested_at',
  'result',
  'progress',
  'awaited',
  'parent_id',
  'child_failure',
  'trace_context',
  'archived_at',
] as const;

/**
 * Moves up to `limit` dead letters created more than `olderThanSeconds` ago into the archive:
 * `failed` ones, and moved ones their dead-letter queue has finished. Delete and insert are one
 * statement, so one transaction: a row is never in both tables, nor in neither.
 *
 * An id already in the archive (a message imported twice, an operator's insert) is replaced by
 * the newer row: a duplicate would stop nothing (the partitioned archive has no unique key on
 * `id` alone) but would answer a lookup twice. The older row is deleted by the same statement,
 * found through the index on `id` (`= ANY` of an array: one index probe per partition and id,
 * never a scan of the archive), and the newer one lands in the partition of its `archived_at`.
 * That probe is most of a full batch's cost on a long-kept archive: 10,000 rows into 58
 * partitions of 1,040,000 rows took 2.7 s on PostgreSQL 15, 0.4 s without it (BENCHMARKS.md).
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
), replaced AS (
  DELETE FROM ${t.qualifiedArchive} WHERE id = ANY (ARRAY(SELECT id FROM moved))
)
INSERT INTO ${t.qualifiedArchive} SELECT * FROM moved`,
    values: [olderThanSeconds, limit],
  };
}
