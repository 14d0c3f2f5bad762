import { type MigrationInterface, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { UNIQUE_ACTIVE_PREDICATE, UNIQUE_WINDOW_PREDICATE } from '../sql/unique.sql.js';
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
 *
 * On a big table the migration runner does the slow parts ahead, without holding the table
 * (`prepare-flow-control.ts`); so the definitions of the columns, checks and indexes live here
 * once, for both, and a prepared table ends up identical to one migrated in one transaction.
 */
export function addFlowControl(t: QueueTableNames): QueueMigrationClass {
  return class AddFlowControl1795570800000 implements MigrationInterface {
    readonly name = 'AddFlowControl1795570800000';

    /*
     * Each part is done only where it is missing, so that on a table prepared beforehand
     * (`prepare-flow-control.ts`: columns and constraints in short transactions, indexes built
     * concurrently) this transaction does catalog reads only and takes no lock on the queue
     * table; on a new or small table it does everything, as it always did.
     */
    async up(queryRunner: QueryRunner): Promise<void> {
      await takeMigrationLocks(queryRunner, t);
      const before = await readFlowControlState(queryRunner, t);
      if (before.archivePending) await upgradeArchive(queryRunner, t);
      if (before.missingColumns) {
        await queryRunner.query(`ALTER TABLE ${t.qualified} ${addFlowColumnsSql()}`);
      }
      // The new state: the old check is a subset of the new one, so no row can fail it.
      const constraints = flowConstraintChanges(t, before.checks, false);
      if (constraints !== null) {
        await queryRunner.query(`ALTER TABLE ${t.qualified} ${constraints}`);
      }
      const unvalidated = unvalidatedFlowChecks(t, await readFlowControlChecks(queryRunner, t));
      if (unvalidated !== null) {
        await queryRunner.query(`ALTER TABLE ${t.qualified} ${unvalidated}`);
      }
      for (const index of flowIndexes(t)) {
        const found = before.indexes.get(index.name);
        if (found === true) continue;
        // An invalid index is what an interrupted concurrent build left. A build still running
        // holds SHARE UPDATE EXCLUSIVE on the table until it ends, and DROP INDEX waits for it:
        // at worst a finished build is dropped and built again here.
        if (found === false)
          await queryRunner.query(`DROP INDEX ${t.quotedSchema}.${index.quoted}`);
        await queryRunner.query(createFlowIndexSql(t, index, false));
      }
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS ${t.qualifiedQueues} (
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

/** The columns flow control adds, in table order, to the queue table and to the archive. */
export const FLOW_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['priority', 'INTEGER NOT NULL DEFAULT 0'],
  ['unique_key', 'TEXT'],
  ['unique_scope', 'TEXT'],
  ['unique_window', 'BIGINT'],
  ['group_key', 'TEXT'],
  ['leased_at', 'TIMESTAMPTZ'],
  ['cancel_requested_at', 'BIGINT'],
];

/** The clauses of one ALTER TABLE adding every flow-control column not there yet. */
export function addFlowColumnsSql(): string {
  return FLOW_COLUMNS.map(
    ([name, definition]) => `ADD COLUMN IF NOT EXISTS ${name} ${definition}`,
  ).join(',\n  ');
}

/** The CHECK constraints of the queue table that flow control adds or replaces, by name suffix. */
const FLOW_CHECKS = [
  ['state_check', `state IN ('ready', 'leased', 'done', 'failed', 'cancelled')`],
  ['priority_check', 'priority >= 0'],
  [
    'unique_check',
    `(unique_key IS NULL) = (unique_scope IS NULL)
    AND unique_scope IN ('active', 'active_or_failed', 'window')
    AND (unique_scope = 'window') = (unique_window IS NOT NULL)`,
  ],
] as const;

/** A CHECK constraint of the queue table as the catalog has it. */
export interface FlowCheckState {
  readonly definition: string;
  readonly validated: boolean;
}

/**
 * The clauses of one ALTER TABLE that put in place the flow-control checks not there yet (the
 * state check of before, which lacks `cancelled`, is replaced), or null when all are there.
 * `notValid`: added without checking the rows, for a VALIDATE of its own that blocks no writer.
 */
export function flowConstraintChanges(
  t: QueueTableNames,
  checks: ReadonlyMap<string, FlowCheckState>,
  notValid: boolean,
): string | null {
  const clauses: string[] = [];
  for (const [suffix, check] of FLOW_CHECKS) {
    const name = `${t.table}_${suffix}`;
    const found = checks.get(name);
    // The state check of the previous release has the same name but not the new state.
    const current =
      found !== undefined && (suffix !== 'state_check' || found.definition.includes("'cancelled'"));
    if (current) continue;
    if (found !== undefined) clauses.push(`DROP CONSTRAINT "${name}"`);
    clauses.push(`ADD CONSTRAINT "${name}" CHECK (${check})${notValid ? ' NOT VALID' : ''}`);
  }
  return clauses.length === 0 ? null : clauses.join(',\n  ');
}

/** The VALIDATE clauses of the flow-control checks still `NOT VALID`, or null when none is. */
export function unvalidatedFlowChecks(
  t: QueueTableNames,
  checks: ReadonlyMap<string, FlowCheckState>,
): string | null {
  const names = FLOW_CHECKS.map(([suffix]) => `${t.table}_${suffix}`).filter(
    (name) => checks.get(name)?.validated === false,
  );
  return names.length === 0
    ? null
    : names.map((name) => `VALIDATE CONSTRAINT "${name}"`).join(', ');
}

/** One partial index of flow control: the one place its columns and predicate are written. */
export interface FlowIndex {
  /** Unquoted name. */
  readonly name: string;
  /** Quoted name, from `QueueTableNames`. */
  readonly quoted: string;
  readonly unique: boolean;
  /** What follows `ON <table>`: the columns and the WHERE clause. */
  readonly shape: string;
}

/**
 * The six partial indexes of flow control. The migration builds them in its transaction, the
 * preparation of a big table concurrently; both from these definitions, so they are identical.
 */
export function flowIndexes(t: QueueTableNames): readonly FlowIndex[] {
  const index = (
    key: 'priority' | 'unique' | 'uniqueWindow' | 'group' | 'rate' | 'groupRate',
    unique: boolean,
    shape: string,
  ): FlowIndex => ({ name: t.indexes[key].slice(1, -1), quoted: t.indexes[key], unique, shape });
  return [
    index(
      'priority',
      false,
      `(queue, priority DESC, available_at, seq) WHERE state = 'ready' AND priority > 0`,
    ),
    index('unique', true, `(queue, unique_key) WHERE ${UNIQUE_ACTIVE_PREDICATE}`),
    index(
      'uniqueWindow',
      true,
      `(queue, unique_key, unique_window) WHERE ${UNIQUE_WINDOW_PREDICATE}`,
    ),
    index(
      'group',
      false,
      `(queue, group_key, state, seq) WHERE group_key IS NOT NULL AND state IN ('ready', 'leased', 'failed')`,
    ),
    index('rate', false, `(queue, leased_at) WHERE leased_at IS NOT NULL`),
    index(
      'groupRate',
      false,
      `(queue, group_key, leased_at) WHERE leased_at IS NOT NULL AND group_key IS NOT NULL`,
    ),
  ];
}

/** CREATE INDEX of one flow-control index, in a transaction or `concurrently` outside one. */
export function createFlowIndexSql(
  t: QueueTableNames,
  index: FlowIndex,
  concurrently: boolean,
): string {
  return `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX${concurrently ? ' CONCURRENTLY' : ''} IF NOT EXISTS ${index.quoted} ON ${t.qualified} ${index.shape}`;
}

/** What of flow control the tables have already, read from the catalog (no table lock). */
export interface FlowControlState {
  /** Some flow-control column is missing from the queue table. */
  readonly missingColumns: boolean;
  /** The archive lacks a flow-control column, or `archived_at` is not its last column. */
  readonly archivePending: boolean;
  /** The queue table's CHECK constraints, by name. */
  readonly checks: ReadonlyMap<string, FlowCheckState>;
  /** The flow-control indexes that exist, by unquoted name: whether each is valid. */
  readonly indexes: ReadonlyMap<string, boolean>;
}

export async function readFlowControlState(
  queryRunner: QueryRunner,
  t: QueueTableNames,
): Promise<FlowControlState> {
  // to_regclass and the catalogs take no lock on the tables, so reading waits for nobody.
  const columns = (await queryRunner.query(
    `SELECT a.attrelid = to_regclass($1::text) AS queue_table, a.attname AS name,
  a.attnum = max(a.attnum) OVER (PARTITION BY a.attrelid) AS last
FROM pg_attribute AS a
WHERE a.attrelid IN (to_regclass($1::text), to_regclass($2::text)) AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.qualified, t.qualifiedArchive],
  )) as Array<{ queue_table: boolean; name: string; last: boolean }>;
  const has = (queueTable: boolean, name: string) =>
    columns.some((column) => column.queue_table === queueTable && column.name === name);
  const indexes = (await queryRunner.query(
    `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass($1::text) AND c.relname = ANY ($2::text[])`,
    [t.qualified, flowIndexes(t).map((index) => index.name)],
  )) as Array<{ name: string; valid: boolean }>;
  return {
    missingColumns: FLOW_COLUMNS.some(([name]) => !has(true, name)),
    archivePending:
      FLOW_COLUMNS.some(([name]) => !has(false, name)) ||
      !columns.some(
        (column) => !column.queue_table && column.name === 'archived_at' && column.last,
      ),
    checks: await readFlowControlChecks(queryRunner, t),
    indexes: new Map(indexes.map((index) => [index.name, index.valid])),
  };
}

async function readFlowControlChecks(
  queryRunner: QueryRunner,
  t: QueueTableNames,
): Promise<Map<string, FlowCheckState>> {
  const rows = (await queryRunner.query(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition, convalidated AS validated
FROM pg_constraint WHERE conrelid = to_regclass($1::text) AND contype = 'c'`,
    [t.qualified],
  )) as Array<{ name: string; definition: string; validated: boolean }>;
  return new Map(rows.map((row) => [row.name, row]));
}

/**
 * The archive's part: the flow-control columns, then `archived_at` moved behind them. It locks
 * the archive only (nothing here names the queue table), which the cleanup alone writes.
 */
export async function upgradeArchive(queryRunner: QueryRunner, t: QueueTableNames): Promise<void> {
  await queryRunner.query(`ALTER TABLE ${t.qualifiedArchive} ${addFlowColumnsSql()}`);
  await moveArchivedAtLast(queryRunner, t);
}

/**
 * Puts `archived_at` back behind the columns just added to the archive: a new column, filled
 * from the old one, which is then dropped (a dropped column is not part of `SELECT *` or of a
 * positional INSERT).
 */
export async function moveArchivedAtLast(
  queryRunner: QueryRunner,
  t: QueueTableNames,
): Promise<void> {
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
