import { type DataSource, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import {
  addFlowColumnsSql,
  createFlowIndexSql,
  flowConstraintChanges,
  flowIndexes,
  readFlowControlState,
  unvalidatedFlowChecks,
  upgradeArchive,
} from './1795570800000-add-flow-control.js';
import { queueMigrations } from './index.js';
import { upgradeSteps, withSessionLock } from './migration-lock.js';

/** The migration whose slow parts are done ahead of it on a big table. */
export const FLOW_CONTROL_MIGRATION = 'AddFlowControl1795570800000';

/**
 * From how many rows the queue table is prepared ahead of the migration. Below it the migration
 * does everything in its transaction, holding the table for tens of milliseconds (measured at
 * 1,000,000 rows under load: 3.1 s, so some 30 ms at 10,000), about what the preparation spends
 * waiting for older transactions (each concurrent index build waits for every snapshot older
 * than its own).
 */
export const FLOW_PREPARE_MIN_ROWS = 10_000;

/** The steps of a preparation; those in a short transaction that locks a table say which. */
export type FlowPreparationStep =
  'archive (locks the archive)' | 'columns (locks)' | 'validate' | 'index';

export interface FlowPreparationContext {
  /** How long a statement may wait for a table lock before the try gives up. */
  readonly lockTimeoutMs: number;
  /** Told after each step, with its duration. */
  readonly onStep?: (step: FlowPreparationStep, durationMs: number) => void;
  /**
   * Applies the pending migrations before flow control, in their transaction (after adopting
   * the Python backend's table, say): the columns added here must come after theirs.
   * @returns the names it applied.
   */
  readonly migrateEarlier: () => Promise<string[]>;
}

/**
 * First half of the preparation lock's key ('prep'), apart from the migrations', the adoption's
 * and the flow-controlled leases'.
 */
const PREPARATION_LOCK_CLASS = 0x70726570;

/**
 * Prepares the queue table for `AddFlowControl1795570800000` while producers and workers (ours and
 * the Python backend's) keep using it, when that migration is pending on a table of at least
 * {@link FLOW_PREPARE_MIN_ROWS} rows; otherwise does nothing. The migration then finds its columns,
 * checks and indexes in place and only records itself. Every step may be run again: a boot after
 * a crash anywhere resumes, and one preparation at a time runs per table (a session lock).
 *
 * @returns the earlier migrations it applied first (see `migrateEarlier`).
 */
export async function prepareFlowControlIfPending(
  dataSource: DataSource,
  t: QueueTableNames,
  context: FlowPreparationContext,
): Promise<string[]> {
  // The common case, nothing pending or a small table, costs catalog reads and takes no lock.
  const seen = await pendingOnBigTable(dataSource, t);
  if (seen === 'no') return [];
  const earlier = seen === 'after earlier' ? await context.migrateEarlier() : [];
  return withSessionLock(
    dataSource,
    { lockClass: PREPARATION_LOCK_CLASS, key: `flow:${t.lockKey}` },
    context.lockTimeoutMs,
    async (queryRunner) => {
      if ((await pendingOnBigTable(queryRunner, t)) !== 'yes') return earlier;
      await prepareFlowControl(queryRunner, t, context);
      return earlier;
    },
  );
}

/**
 * Whether flow control is pending on a table of ours with enough rows to prepare, and whether
 * migrations before it are pending too. A table with no record of being created (the Python
 * backend's before adoption, someone else's) is left to the runner.
 */
async function pendingOnBigTable(
  source: DataSource | QueryRunner,
  t: QueueTableNames,
): Promise<'no' | 'yes' | 'after earlier'> {
  const [found] = (await source.query(
    `SELECT to_regclass($1::text) IS NOT NULL AND to_regclass($2::text) IS NOT NULL AS found`,
    [t.qualified, t.qualifiedMigrations],
  )) as Array<{ found: boolean }>;
  if (found?.found !== true) return 'no';
  const applied = new Set(
    (
      (await source.query(`SELECT name FROM ${t.qualifiedMigrations}`)) as Array<{ name: string }>
    ).map((row) => row.name),
  );
  const names = queueMigrations(t).map((Migration) => new Migration().name);
  const earlier = names.slice(0, names.indexOf(FLOW_CONTROL_MIGRATION));
  if (applied.has(FLOW_CONTROL_MIGRATION) || !applied.has(earlier[0]!)) return 'no';
  const [counted] = (await source.query(
    `SELECT count(*)::integer AS n FROM (SELECT 1 FROM ${t.qualified} LIMIT $1::integer) AS sample`,
    [FLOW_PREPARE_MIN_ROWS],
  )) as Array<{ n: number }>;
  if (counted!.n < FLOW_PREPARE_MIN_ROWS) return 'no';
  return earlier.every((name) => applied.has(name)) ? 'yes' : 'after earlier';
}

/**
 * The preparation itself, on one connection outside any transaction (CREATE INDEX CONCURRENTLY
 * cannot run in one), with the session's `lock_timeout` bounding every wait for a table lock:
 *
 * 1. archive (a short transaction locking the archive only): its flow-control columns, then
 *    `archived_at` moved last. First, so that at every moment the Python backend's
 *    `INSERT INTO messages_archive SELECT * FROM messages` lines up: the archive has more
 *    columns, filled by their defaults, never fewer.
 * 2. columns (a short transaction locking the queue table: catalog only): the columns, nullable
 *    or of constant default, and the checks `NOT VALID` (new writes are checked from then on).
 * 3. validate: the checks, each row read under SHARE UPDATE EXCLUSIVE (reads and writes go on).
 * 4. index: each partial index built concurrently, after dropping an invalid one an interrupted
 *    build left behind.
 */
export async function prepareFlowControl(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  context: Pick<FlowPreparationContext, 'lockTimeoutMs' | 'onStep'>,
): Promise<void> {
  const { step, locked } = upgradeSteps<FlowPreparationStep>(queryRunner, t, context);

  const before = await readFlowControlState(queryRunner, t);
  if (before.archivePending) {
    await locked('archive (locks the archive)', () => upgradeArchive(queryRunner, t));
  }
  if (before.missingColumns || flowConstraintChanges(t, before.checks, true) !== null) {
    await locked('columns (locks)', async () => {
      // Read again under the migration locks: a TypeORM CLI run may have migrated meanwhile.
      const now = await readFlowControlState(queryRunner, t);
      const constraints = flowConstraintChanges(t, now.checks, true);
      if (!now.missingColumns && constraints === null) return;
      await queryRunner.query(
        `ALTER TABLE ${t.qualified} ${[addFlowColumnsSql(), constraints].filter((part) => part !== null).join(',\n  ')}`,
      );
    });
  }
  const checks = (await readFlowControlState(queryRunner, t)).checks;
  const unvalidated = unvalidatedFlowChecks(t, checks);
  if (unvalidated !== null) {
    await step('validate', async () => {
      await queryRunner.query(`ALTER TABLE ${t.qualified} ${unvalidated}`);
    });
  }
  for (const index of flowIndexes(t)) {
    const valid = before.indexes.get(index.name);
    if (valid === true) continue;
    await step('index', async () => {
      // Under the preparation lock, an invalid index is no build in progress but one a crash or
      // a lock timeout interrupted: dropped and built again.
      if (valid === false) {
        await queryRunner.query(
          `DROP INDEX CONCURRENTLY IF EXISTS ${t.quotedSchema}.${index.quoted}`,
        );
      }
      await queryRunner.query(createFlowIndexSql(t, index, true));
    });
  }
}
