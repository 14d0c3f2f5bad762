import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * What flow control keeps in the database, so that it holds across any number of replicas:
 *
 * - `priority`: higher first, 0 (the default, and what the Python backend's inserts get) lowest.
 * - `unique_key`, `unique_scope`, `unique_window`: a key that at most one message of a queue holds
 *   while it is `active` (ready or leased), `active_or_failed`, or within one `window` (the epoch
 *   second its window starts). Enforced by the two unique indexes below, so concurrent enqueues
 *   cannot both insert. A dead letter moved to another queue (`origin_queue` set) holds no key.
 * - `group_key`: messages of one group are leased at most `groupConcurrency` at a time, in order
 *   when that is 1; the group index answers "how many leased, any dead letter, which is next".
 * - `leased_at`: when a rate-limited processor leased the message (others leave it NULL), counted
 *   over the limit's window.
 * - `cancel_requested_at`: a cancel asked for while the message was leased; the worker holding
 *   it aborts its handler, and the reaper settles it as `cancelled` if that worker died.
 * - state `cancelled`; and `<table>_queues`, one row per queue that was ever paused.
 *
 * Every partial index leaves out the rows of plain messages (no priority, key, group or rate),
 * so a queue that uses none of this pays nothing for it on its hot path.
 *
 * New columns are nullable or have a constant default, so adding them rewrites nothing. The
 * archive gets them too, before `archived_at`, so that the Python backend's
 * `INSERT INTO messages_archive SELECT * FROM messages …` still lines up: `archived_at` is
 * moved behind them (a rewrite of the archive only, not of the queue table).
 */
export function addFlowControl(t: QueueTableNames): QueueMigrationClass {
  return class AddFlowControl1795570800000 implements MigrationInterface {
    readonly name = 'AddFlowControl1795570800000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      for (const table of [t.qualified, t.qualifiedArchive]) {
        await queryRunner.query(`ALTER TABLE ${table}
  ADD COLUMN priority INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN unique_key TEXT,
  ADD COLUMN unique_scope TEXT,
  ADD COLUMN unique_window BIGINT,
  ADD COLUMN group_key TEXT,
  ADD COLUMN leased_at TIMESTAMPTZ,
  ADD COLUMN cancel_requested_at BIGINT`);
      }
      await moveArchivedAtLast(queryRunner, t);
      // The new state: the old check is a subset of the new one, so no row can fail it.
      await queryRunner.query(`ALTER TABLE ${t.qualified}
  DROP CONSTRAINT "${t.table}_state_check",
  ADD CONSTRAINT "${t.table}_state_check" CHECK (state IN ('ready', 'leased', 'done', 'failed', 'cancelled')),
  ADD CONSTRAINT "${t.table}_priority_check" CHECK (priority >= 0),
  ADD CONSTRAINT "${t.table}_unique_check" CHECK (
    (unique_key IS NULL) = (unique_scope IS NULL)
    AND unique_scope IN ('active', 'active_or_failed', 'window')
    AND (unique_scope = 'window') = (unique_window IS NOT NULL))`);
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.priority} ON ${t.qualified} (queue, priority DESC, available_at, seq) WHERE state = 'ready' AND priority > 0`,
      );
      await queryRunner.query(
        `CREATE UNIQUE INDEX ${t.indexes.unique} ON ${t.qualified} (queue, unique_key) WHERE ${UNIQUE_ACTIVE_PREDICATE}`,
      );
      await queryRunner.query(
        `CREATE UNIQUE INDEX ${t.indexes.uniqueWindow} ON ${t.qualified} (queue, unique_key, unique_window) WHERE ${UNIQUE_WINDOW_PREDICATE}`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.group} ON ${t.qualified} (queue, group_key, state, seq) WHERE group_key IS NOT NULL AND state IN ('ready', 'leased', 'failed')`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.rate} ON ${t.qualified} (queue, leased_at) WHERE leased_at IS NOT NULL`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.groupRate} ON ${t.qualified} (queue, group_key, leased_at) WHERE leased_at IS NOT NULL AND group_key IS NOT NULL`,
      );
      await queryRunner.query(`CREATE TABLE ${t.qualifiedQueues} (
  queue      TEXT    PRIMARY KEY,
  paused     BOOLEAN NOT NULL DEFAULT false,
  updated_at BIGINT  NOT NULL DEFAULT floor(extract(epoch from now()))::bigint
)`);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP TABLE ${t.qualifiedQueues}`);
      await queryRunner.query(`ALTER TABLE ${t.qualified}
  DROP CONSTRAINT "${t.table}_state_check",
  ADD CONSTRAINT "${t.table}_state_check" CHECK (state IN ('ready', 'leased', 'done', 'failed')) NOT VALID,
  DROP CONSTRAINT "${t.table}_priority_check",
  DROP CONSTRAINT "${t.table}_unique_check"`);
      for (const table of [t.qualified, t.qualifiedArchive]) {
        await queryRunner.query(`ALTER TABLE ${table}
  DROP COLUMN priority, DROP COLUMN unique_key, DROP COLUMN unique_scope, DROP COLUMN unique_window,
  DROP COLUMN group_key, DROP COLUMN leased_at, DROP COLUMN cancel_requested_at`);
      }
    }
  };
}

/**
 * Which rows hold their `unique_key` for `active` and `active_or_failed` keys. The enqueue
 * statements and `retryFailed` repeat it (from `sql/unique.sql.ts`) so they agree with the index.
 */
export const UNIQUE_ACTIVE_PREDICATE = `unique_scope IN ('active', 'active_or_failed') AND origin_queue IS NULL AND (state IN ('ready', 'leased') OR (state = 'failed' AND unique_scope = 'active_or_failed'))`;

/** Which rows hold their `unique_key` within their `unique_window`: all of them, whatever the state. */
export const UNIQUE_WINDOW_PREDICATE = `unique_scope = 'window' AND origin_queue IS NULL`;

/**
 * Puts `archived_at` back behind the columns just added to the archive: a new column, filled
 * from the old one, which is then dropped (a dropped column is not part of `SELECT *` or of a
 * positional INSERT).
 */
async function moveArchivedAtLast(queryRunner: QueryRunner, t: QueueTableNames): Promise<void> {
  const now = 'floor(extract(epoch from now()))::bigint';
  await queryRunner.query(
    `ALTER TABLE ${t.qualifiedArchive} ADD COLUMN archived_at_moved BIGINT NOT NULL DEFAULT ${now}`,
  );
  await queryRunner.query(`UPDATE ${t.qualifiedArchive} SET archived_at_moved = archived_at`);
  await queryRunner.query(`ALTER TABLE ${t.qualifiedArchive} DROP COLUMN archived_at`);
  await queryRunner.query(
    `ALTER TABLE ${t.qualifiedArchive} RENAME COLUMN archived_at_moved TO archived_at`,
  );
  await queryRunner.query(
    `CREATE INDEX ${t.indexes.archivedAt} ON ${t.qualifiedArchive} (archived_at)`,
  );
}
