import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * `<table>_schedules`: one row per recurring message, shared by every replica. A replica
 * enqueues a due schedule's messages and moves its `next_tick_at` on in one transaction, on the
 * row locked with `FOR UPDATE SKIP LOCKED`, so each tick is enqueued once however many replicas
 * run. The queue table is not touched: the Python backend sees only the messages.
 *
 * - `missed` and `backfill`: the policy for ticks missed while no replica ran (`skip`, `once`,
 *   `backfill` the latest `backfill` of them).
 * - `source`: `code` (module options or `@RecurringMessage`, upserted at boot, deleted at boot
 *   by the same `owner`, the application name, once no longer declared) or `api`.
 * - `next_tick_at` is indexed: every replica asks for the earliest one to know how long to sleep.
 */
export function addSchedules(t: QueueTableNames): QueueMigrationClass {
  return class AddSchedules1795578000000 implements MigrationInterface {
    readonly name = 'AddSchedules1795578000000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(`CREATE TABLE ${t.qualifiedSchedules} (
  name          TEXT        PRIMARY KEY,
  queue         TEXT        NOT NULL,
  cron          TEXT        NOT NULL,
  time_zone     TEXT        NOT NULL,
  body          JSONB       NOT NULL,
  priority      INTEGER     NOT NULL DEFAULT 0 CHECK (priority >= 0),
  group_key     TEXT,
  delay_seconds INTEGER     NOT NULL DEFAULT 0 CHECK (delay_seconds >= 0),
  missed        TEXT        NOT NULL CHECK (missed IN ('skip', 'once', 'backfill')),
  backfill      INTEGER     CHECK (backfill > 0),
  source        TEXT        NOT NULL CHECK (source IN ('code', 'api')),
  owner         TEXT,
  next_tick_at  TIMESTAMPTZ NOT NULL,
  last_tick_at  TIMESTAMPTZ,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((missed = 'backfill') = (backfill IS NOT NULL))
)`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.schedulesNext} ON ${t.qualifiedSchedules} (next_tick_at)`,
      );
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE ${t.qualifiedSchedules}`);
    }
  };
}
