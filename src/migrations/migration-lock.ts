import { type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';

/** First half of the advisory lock keys of migrations ('queu'); the second is a hashed name. */
const MIGRATION_LOCK_CLASS = 0x71756575;

/**
 * Takes, until the transaction ends, the advisory locks that serialise migrations (after lifting
 * the statement timeout for the transaction): the schema's
 * first (two tables of one new schema must not both create it), then the table's (the key the
 * module has always used). The module's runner takes them, and so does every migration, so the
 * TypeORM CLI path is serialised with booting replicas too; taking them again in the same
 * transaction costs nothing. Every process takes them in the same order, so they cannot deadlock.
 */
export async function takeMigrationLocks(
  queryRunner: QueryRunner,
  names: QueueTableNames,
): Promise<void> {
  // DDL on a big table (an index build) may rightly outlast the pool's statement timeout, and so
  // may the wait for another process's migration: lifted before the locks are taken, or a replica
  // booting behind a migration longer than the timeout failed with 57014 and was never retried.
  await queryRunner.query("SELECT set_config('statement_timeout', '0', true)");
  for (const key of [`schema:${names.schema}`, names.lockKey]) {
    await queryRunner.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [
      MIGRATION_LOCK_CLASS,
      key,
    ]);
  }
}

/**
 * The start of a migrating transaction: the migration locks, waited for however long another
 * process's migration takes (the pool's lock timeout would fail that wait and spend the retries
 * on it), then `lockTimeoutMs` for every table lock the DDL asks for, so that no application
 * statement queues behind a long wait of ours.
 */
export async function takeMigrationLocksThenBoundTableLocks(
  queryRunner: QueryRunner,
  names: QueueTableNames,
  lockTimeoutMs: number,
): Promise<void> {
  await queryRunner.query("SELECT set_config('lock_timeout', '0', true)");
  await takeMigrationLocks(queryRunner, names);
  await queryRunner.query("SELECT set_config('lock_timeout', $1::text, true)", [
    `${lockTimeoutMs}ms`,
  ]);
}
