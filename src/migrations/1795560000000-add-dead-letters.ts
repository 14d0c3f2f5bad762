import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * What processors record about failures:
 *
 * - `last_error`: the last failure of the message, as JSON (`name`, `message`, a bounded `stack`,
 *   the `attempt`, and validation `details` for a body that failed its DTO).
 * - `origin_queue`: for a dead letter moved to a `deadLetterQueue`, the queue it failed in, so
 *   `retryFailed` can put it back.
 *
 * Adding nullable columns without defaults rewrites nothing, so this is instant on a big table.
 * The partial index holds dead letters only, for `listFailed`/`retryFailed` by origin.
 *
 * IF NOT EXISTS: adopting the Python backend's table (`adopt-python-table.ts`) adds these columns
 * and builds the index concurrently beforehand, so that this migration does not build it on a
 * full table it holds exclusively. On a table this package created, nothing exists yet and the
 * statements do what they always did.
 */
export function addDeadLetters(t: QueueTableNames): QueueMigrationClass {
  return class AddDeadLetters1795560000000 implements MigrationInterface {
    readonly name = 'AddDeadLetters1795560000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ADD COLUMN IF NOT EXISTS last_error JSONB, ADD COLUMN IF NOT EXISTS origin_queue TEXT`,
      );
      await queryRunner.query(
        `CREATE INDEX IF NOT EXISTS ${t.indexes.origin} ON ${t.qualified} (origin_queue) WHERE origin_queue IS NOT NULL`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP INDEX ${t.quotedSchema}.${t.indexes.origin}`);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} DROP COLUMN last_error, DROP COLUMN origin_queue`,
      );
    }
  };
}
