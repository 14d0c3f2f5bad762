import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { NOW_SECONDS } from '../sql/sql-statement.js';
import { type QueueTableNames } from '../sql/table-names.js';
import { moveArchivedAtLast } from './1795570800000-add-flow-control.js';
import { takeMigrationLocks } from './migration-lock.js';
import { type QueueMigrationClass } from './queue-migration-class.js';

/**
 * What results, `waitFor` and parent/child flows keep in the database:
 *
 * - `result`, `progress`: a handler's return value and its last reported progress (JSONB).
 * - `awaited`: someone waits for this message's end (`waitFor`); the trigger below tells them
 *   on the table's finished channel, whoever ends it (our workers, the reaper, the Python
 *   backend's ack, an operator's DELETE).
 * - `parent_id`: the flow's parent of a child message; `child_failure` on a parent: what a
 *   failing child does to it (`fail`, `cancel`, `ignore`).
 * - state `waiting_children`: a parent waiting for its children. Nothing leases it (every lease
 *   statement, the Python backend's too, takes `ready` messages only); the last child to end
 *   makes it `ready`.
 *
 * The rules live in triggers so that every way a message ends, including statements this
 * package does not send, moves its flow on. Their WHEN clauses read columns of the row only, so
 * a plain message (no parent, not awaited) queues no trigger event: its lease and ack pay the
 * evaluation of one boolean expression each.
 */
export function addWorkflows(t: QueueTableNames): QueueMigrationClass {
  return class AddWorkflows1795574400000 implements MigrationInterface {
    readonly name = 'AddWorkflows1795574400000';

    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      // The archive first, so that the Python backend's `INSERT INTO messages_archive SELECT *
      // FROM messages` lines up at every moment: `archived_at` stays its last column.
      await queryRunner.query(`ALTER TABLE ${t.qualifiedArchive} ${addColumnsSql()}`);
      await moveArchivedAtLast(queryRunner, t);
      await queryRunner.query(`ALTER TABLE ${t.qualified} ${addColumnsSql()},
  DROP CONSTRAINT "${t.table}_state_check",
  ADD CONSTRAINT "${t.table}_state_check" CHECK (${STATE_CHECK}) NOT VALID,
  ADD CONSTRAINT "${t.table}_child_failure_check" CHECK (child_failure IN ('fail', 'cancel', 'ignore'))`);
      // The old state check is a subset of the new one: validating reads the rows but no row
      // can fail it.
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} VALIDATE CONSTRAINT "${t.table}_state_check"`,
      );
      await queryRunner.query(
        `CREATE INDEX ${t.indexes.parent} ON ${t.qualified} (parent_id, state) WHERE parent_id IS NOT NULL`,
      );
      for (const statement of triggerSql(t)) await queryRunner.query(statement);
    }

    async down(queryRunner: QueryRunner): Promise<void> {
      await queryRunner.query(`DROP FUNCTION ${t.functions.messageEnded}() CASCADE`);
      await queryRunner.query(`DROP INDEX ${t.quotedSchema}.${t.indexes.parent}`);
      await queryRunner.query(`ALTER TABLE ${t.qualified}
  DROP CONSTRAINT "${t.table}_child_failure_check",
  DROP CONSTRAINT "${t.table}_state_check",
  ADD CONSTRAINT "${t.table}_state_check" CHECK (state IN ('ready', 'leased', 'done', 'failed', 'cancelled')) NOT VALID`);
      for (const table of [t.qualified, t.qualifiedArchive]) {
        await queryRunner.query(
          `ALTER TABLE ${table} ${COLUMNS.map(([name]) => `DROP COLUMN ${name}`).join(', ')}`,
        );
      }
    }
  };
}

/** The columns added, in table order, to the queue table and to the archive. */
const COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['result', 'JSONB'],
  ['progress', 'JSONB'],
  ['awaited', 'BOOLEAN NOT NULL DEFAULT false'],
  ['parent_id', 'TEXT'],
  ['child_failure', 'TEXT'],
];

function addColumnsSql(): string {
  return COLUMNS.map(([name, definition]) => `ADD COLUMN IF NOT EXISTS ${name} ${definition}`).join(
    ',\n  ',
  );
}

const STATE_CHECK = `state IN ('ready', 'leased', 'done', 'failed', 'cancelled', 'waiting_children')`;

/**
 * Whether a row's state change ends it for its parent and for `waitFor`: `done`, a dead letter
 * (`failed` in place, or moved to a dead-letter queue: `origin_queue` set), or `cancelled`.
 */
const ENDED = `(NEW.state IN ('done', 'failed', 'cancelled') OR NEW.origin_queue IS NOT NULL)
    AND (NEW.state IS DISTINCT FROM OLD.state OR NEW.queue IS DISTINCT FROM OLD.queue)`;

/**
 * The trigger functions and triggers. Channel names hold [a-z0-9_.] only (see `table-names.ts`),
 * so they are written into the functions as plain literals.
 */
function triggerSql(t: QueueTableNames): string[] {
  const ended = `CREATE OR REPLACE FUNCTION ${t.functions.messageEnded}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  child_id text;
  child_queue text;
  parent_key text;
  child_failed boolean;
  ended_as text;
  parent record;
BEGIN
  IF TG_OP = 'DELETE' THEN
    -- A deleted child no longer holds its parent back.
    child_id := OLD.id; child_queue := OLD.queue; parent_key := OLD.parent_id; child_failed := false; ended_as := 'deleted';
    IF OLD.awaited THEN PERFORM pg_notify('${t.finishedChannel}', OLD.id); END IF;
  ELSE
    child_id := NEW.id; child_queue := NEW.queue; parent_key := NEW.parent_id;
    child_failed := NEW.state <> 'done';
    ended_as := CASE WHEN NEW.origin_queue IS NOT NULL AND NEW.state <> 'failed'
      THEN 'moved to its dead-letter queue ' || NEW.queue ELSE NEW.state END;
    IF NEW.awaited THEN PERFORM pg_notify('${t.finishedChannel}', NEW.id); END IF;
  END IF;
  IF parent_key IS NULL THEN
    RETURN NULL;
  END IF;
  -- The parent's row lock orders its children's ends: the last one to take it sees every other
  -- child ended (each statement of a function reads committed rows anew), so exactly one
  -- transaction makes the parent ready, however many children end at once.
  SELECT id, queue, state, child_failure INTO parent FROM ${t.qualified}
    WHERE id = parent_key FOR UPDATE;
  IF NOT FOUND OR parent.state <> 'waiting_children' THEN
    RETURN NULL;
  END IF;
  IF child_failed AND parent.child_failure = 'fail' THEN
    UPDATE ${t.qualified} SET state = 'failed', last_error = jsonb_build_object(
        'name', 'ChildFailedError',
        'message', format('child %s (queue %s) ended %s', child_id, child_queue, ended_as),
        'attempt', attempts, 'failedAt', ${NOW_SECONDS}, 'childId', child_id)
      WHERE id = parent.id;
    RETURN NULL;
  END IF;
  IF child_failed AND parent.child_failure = 'cancel' THEN
    UPDATE ${t.qualified} SET state = 'cancelled' WHERE id = parent.id;
    RETURN NULL;
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM ${t.qualified} AS c
    WHERE c.parent_id = parent.id AND c.id <> child_id
      AND c.state NOT IN ('done', 'failed', 'cancelled') AND c.origin_queue IS NULL
  ) THEN
    UPDATE ${t.qualified} SET state = 'ready', available_at = ${NOW_SECONDS} WHERE id = parent.id;
    PERFORM pg_notify('${t.channel}', parent.queue);
  END IF;
  RETURN NULL;
END
$fn$`;
  // One trigger per event, its cheapest test first: a plain row (no parent, not awaited) fails
  // it at the first column read and queues nothing. Two triggers cost a plain drain twice the
  // evaluations per lease and per ack.
  const trigger = (name: string, event: string, when: string) =>
    `CREATE TRIGGER "${t.table}_${name}" AFTER ${event} ON ${t.qualified} FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${t.functions.messageEnded}()`;
  return [
    ended,
    trigger(
      'ended',
      'UPDATE OF state, queue',
      `(NEW.parent_id IS NOT NULL OR NEW.awaited) AND ${ENDED}`,
    ),
    trigger('deleted', 'DELETE', 'OLD.parent_id IS NOT NULL OR OLD.awaited'),
  ];
}
