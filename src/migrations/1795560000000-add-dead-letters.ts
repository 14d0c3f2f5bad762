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
 */
export function addDeadLetters(t: QueueTableNames): QueueMigrationClass {
  return class AddDeadLetters1795560000000 implements MigrationInterface {
    readonly name = 'AddDeadLetters1795560000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ADD COLUMN last_error JSONB, ADD COLUMN origin_queue TEXT`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.origin} ON ${t.qualified} (origin_queue) WHERE origin_queue IS NOT NULL`,
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
