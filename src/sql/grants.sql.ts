import { type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * What an application role needs on a migrated queue table, and nothing more; each privilege is
 * one the package's statements (or the Python backend's) use:
 *
 * - the queue table: everything a worker does to a message (`DELETE`: acks of the Python
 *   backend, the cleanup, `delete`). `UPDATE` also covers `SELECT … FOR UPDATE` and the flow
 *   trigger, which runs with the rights of the role whose statement fired it (it locks and updates
 *   the parent row, and calls `pg_notify`, which needs no privilege).
 * - the archive: the cleanup inserts dead letters and, in the same statement, deletes an older
 *   row of the same id (a partitioned table has no unique id to conflict on); nothing of ours
 *   updates it.
 * - the archive's partition keeper, `<table>_archive_partitions(integer, bigint)`: `EXECUTE`.
 *   It runs with its owner's rights (SECURITY DEFINER) to create and drop partitions, and its
 *   EXECUTE is revoked from PUBLIC, since it drops archived rows.
 * - `<table>_queues`: pause and resume upsert a row; nothing deletes one.
 * - `<table>_schedules`: boot upserts the declared schedules and deletes the undeclared ones.
 * - `<table>_samples` and `<table>_sample_minutes`: the sampler claims a minute, inserts its
 *   counts and deletes those past retention. `<table>_replicas`: each process upserts its
 *   heartbeat and deletes its row at shutdown, and those of replicas gone for an hour.
 * - `<table>_migrations`: read at boot to see that nothing is pending; the owner writes it.
 * - the identity sequence of `seq`: enqueue draws numbers with `nextval` (`USAGE`).
 *
 * No `TRUNCATE`, `REFERENCES`, `TRIGGER`, no `CREATE` on the schema, no ownership: nothing the
 * application does at boot or at run time alters the schema. The trigger function needs no
 * `EXECUTE` grant: the server checks it when the trigger is created, not when it fires.
 *
 * `quotedRole` was validated and quoted (see `role-name.ts`); a GRANT takes no bound parameter.
 */
export function queueGrantsStatements(t: QueueTableNames, quotedRole: string): SqlStatement[] {
  const grants: Array<readonly [string, string]> = [
    ['USAGE', `SCHEMA ${t.quotedSchema}`],
    ['SELECT, INSERT, UPDATE, DELETE', `TABLE ${t.qualified}`],
    ['SELECT, INSERT, DELETE', `TABLE ${t.qualifiedArchive}`],
    ['EXECUTE', `FUNCTION ${t.functions.archivePartitions}(integer, bigint)`],
    ['SELECT, INSERT, UPDATE', `TABLE ${t.qualifiedQueues}`],
    ['SELECT, INSERT, UPDATE, DELETE', `TABLE ${t.qualifiedSchedules}`],
    ['SELECT, INSERT, UPDATE, DELETE', `TABLE ${t.qualifiedSamples}`],
    ['SELECT, INSERT, UPDATE, DELETE', `TABLE ${t.qualifiedSampleMinutes}`],
    ['SELECT, INSERT, UPDATE, DELETE', `TABLE ${t.qualifiedReplicas}`],
    ['SELECT', `TABLE ${t.qualifiedMigrations}`],
    ['USAGE', `SEQUENCE ${identitySequence(t)}`],
  ];
  return grants.map(([privileges, object]) => ({
    text: `GRANT ${privileges} ON ${object} TO ${quotedRole}`,
    values: [],
  }));
}

/**
 * The sequence behind `seq GENERATED ALWAYS AS IDENTITY`: the server names it
 * `<table>_seq_seq` (the table name is at most 40 characters, so the name is never truncated),
 * and so does adopting the Python backend's table, which adds the identity after dropping its
 * temporary sequence.
 */
function identitySequence(t: QueueTableNames): string {
  return `${t.quotedSchema}."${t.table}_seq_seq"`;
}
