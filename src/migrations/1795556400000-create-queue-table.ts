import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * The Python backend's `messages` table, column for column (times are epoch seconds), with its three
 * indexes, plus what fencing and ordering need:
 *
 * - `seq`: enqueue order. `created_at` has whole-second precision, too coarse for FIFO.
 * - `lease_token`: a fresh UUID per lease; ack/nack must present it (see `settle.sql.ts`).
 * - state `failed` for dead letters, and CHECK constraints documenting the invariants.
 *
 * `idx_<table>_queue_avail` keeps the Python backend's name and leading columns and appends `seq`, so the
 * lease query reads candidates in order straight from the index even when a whole backlog shares
 * one `available_at` second.
 */
export function createQueueTable(t: QueueTableNames): QueueMigrationClass {
  return class CreateQueueTable1795556400000 implements MigrationInterface {
    readonly name = 'CreateQueueTable1795556400000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(`CREATE TABLE ${t.qualified} (
  id           TEXT    PRIMARY KEY DEFAULT gen_random_uuid()::text,
  queue        TEXT    NOT NULL,
  body         JSONB   NOT NULL,
  available_at BIGINT  NOT NULL,
  lease_until  BIGINT,
  attempts     INTEGER NOT NULL DEFAULT 0,
  state        TEXT    NOT NULL DEFAULT 'ready',
  created_at   BIGINT  NOT NULL,
  seq          BIGINT  GENERATED ALWAYS AS IDENTITY,
  lease_token  UUID,
  CONSTRAINT "${t.table}_state_check" CHECK (state IN ('ready', 'leased', 'done', 'failed')),
  CONSTRAINT "${t.table}_lease_check" CHECK (state <> 'leased' OR lease_until IS NOT NULL),
  CONSTRAINT "${t.table}_attempts_check" CHECK (attempts >= 0)
)`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.queueAvailable} ON ${t.qualified} (queue, available_at, seq) WHERE state = 'ready'`,
      );
      await queryRunner.query(`CREATE INDEX ${t.indexes.state} ON ${t.qualified} (state)`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.lease} ON ${t.qualified} (lease_until) WHERE state = 'leased'`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE ${t.qualified}`);
    }
  };
}
