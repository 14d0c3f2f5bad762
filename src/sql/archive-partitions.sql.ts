import { type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Runs the archive's partition keeper (`<table>_archive_partitions`, created by
 * `PartitionArchive1795585200000`): creates the current week's partition and `ahead` more,
 * moves rows out of the default partition into theirs, and drops the partitions whose every row
 * was archived more than `keepSeconds` ago (none when null). One row: what it created, what it
 * dropped, how many rows it moved.
 */
export function maintainArchivePartitionsSql(
  t: QueueTableNames,
  ahead: number,
  keepSeconds: number | null,
): SqlStatement {
  return {
    text: `SELECT created, dropped, moved::integer AS moved FROM ${t.functions.archivePartitions}($1::integer, $2::bigint)`,
    values: [ahead, keepSeconds],
  };
}
