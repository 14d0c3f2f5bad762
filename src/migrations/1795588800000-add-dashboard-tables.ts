import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * What the dashboard reads that the queue table cannot tell: its history and the other pods.
 *
 * - `<table>_samples`: one row per queue and minute, the counts by state at the end of that
 *   minute and what was enqueued and ended during it. Written once per minute for the whole
 *   cluster: the replica whose insert into `<table>_sample_minutes` claims the minute writes its
 *   rows; the others find the minute taken and read nothing. Old rows are deleted by the same
 *   job (`samples.retentionHours`).
 * - `<table>_replicas`: one row per running process (a random id per start), rewritten every
 *   heartbeat with the processors it runs, deleted at its shutdown, or an hour after its last
 *   heartbeat once it died. `heartbeat_seconds` is the writer's own interval, so a reader tells
 *   a live replica from a dead one without knowing the writer's options.
 *
 * The queue table is not touched: the Python backend sees nothing of this.
 */
export function addDashboardTables(t: QueueTableNames): QueueMigrationClass {
  return class AddDashboardTables1795588800000 implements MigrationInterface {
    readonly name = 'AddDashboardTables1795588800000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      await queryRunner.query(`CREATE TABLE ${t.qualifiedSampleMinutes} (
  minute      TIMESTAMPTZ PRIMARY KEY,
  sampled_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)`);
      await queryRunner.query(`CREATE TABLE ${t.qualifiedSamples} (
  minute     TIMESTAMPTZ NOT NULL,
  queue      TEXT        NOT NULL,
  ready      BIGINT      NOT NULL,
  leased     BIGINT      NOT NULL,
  failed     BIGINT      NOT NULL,
  done       BIGINT      NOT NULL,
  cancelled  BIGINT      NOT NULL,
  enqueued   BIGINT      NOT NULL,
  completed  BIGINT      NOT NULL,
  PRIMARY KEY (minute, queue)
)`);
      await queryRunner.query(`CREATE TABLE ${t.qualifiedReplicas} (
  id                UUID        PRIMARY KEY,
  application_name  TEXT        NOT NULL,
  hostname          TEXT        NOT NULL,
  pid               INTEGER     NOT NULL,
  started_at        TIMESTAMPTZ NOT NULL,
  last_seen_at      TIMESTAMPTZ NOT NULL,
  heartbeat_seconds INTEGER     NOT NULL CHECK (heartbeat_seconds > 0),
  processors        JSONB       NOT NULL DEFAULT '[]'
)`);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(
        `DROP TABLE ${t.qualifiedReplicas}, ${t.qualifiedSamples}, ${t.qualifiedSampleMinutes}`,
      );
    }
  };
}
