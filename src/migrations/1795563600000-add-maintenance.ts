import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * What the scheduled reaper and cleanup need:
 *
 * - `max_attempts` and `dead_letter_queue`, written by each lease from the processor's options, so
 *   a reaper on any replica (an API-only pod included) knows that an expired lease was the last
 *   attempt and dead-letters it instead of handing it out again.
 * - `<table>_archive`, the Python backend's `messages_archive`: the queue table's columns in the same order
 *   (so the Python backend's `INSERT INTO messages_archive SELECT * FROM messages …` works), plus
 *   `archived_at`. A later migration adding a column to the queue table must add it to the
 *   archive too, at the same position, before `archived_at`, and to `ARCHIVE_COLUMNS` in
 *   `cleanup.sql.ts`.
 */
export function addMaintenance(t: QueueTableNames): QueueMigrationClass {
  return class AddMaintenance1795563600000 implements MigrationInterface {
    readonly name = 'AddMaintenance1795563600000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ADD COLUMN max_attempts INTEGER, ADD COLUMN dead_letter_queue TEXT`,
      );
      await queryRunner.query(
        `CREATE TABLE ${t.qualifiedArchive} (LIKE ${t.qualified} INCLUDING DEFAULTS)`,
      );
      await queryRunner.query(
        `ALTER TABLE ${t.qualifiedArchive}
  ADD COLUMN archived_at BIGINT NOT NULL DEFAULT floor(extract(epoch from now()))::bigint,
  ADD PRIMARY KEY (id)`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.archivedAt} ON ${t.qualifiedArchive} (archived_at)`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE ${t.qualifiedArchive}`);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} DROP COLUMN max_attempts, DROP COLUMN dead_letter_queue`,
      );
    }
  };
}
