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
import { upgradeSteps } from './migration-lock.js';
import { prepareAheadIfPending, type PreparationContext } from './prepare-ahead.js';

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

/** What the runner tells the flow-control preparation. */
export type FlowPreparationContext = PreparationContext<FlowPreparationStep>;

/**
 * Prepares the queue table for `AddFlowControl1795570800000` while producers and workers (ours and
 * the Python backend's) keep using it, when that migration is pending on a table of at least
 * {@link FLOW_PREPARE_MIN_ROWS} rows; otherwise does nothing. The migration then finds its columns,
 * checks and indexes in place and only records itself. Every step may be run again: a boot after
 * a crash anywhere resumes, and one preparation at a time runs per table (a session lock, class
 * 'prep').
 *
 * @returns the earlier migrations it applied first (see `migrateEarlier`).
 */
export function prepareFlowControlIfPending(
  dataSource: DataSource,
  t: QueueTableNames,
  context: FlowPreparationContext,
): Promise<string[]> {
  return prepareAheadIfPending(
    dataSource,
    t,
    {
      migration: FLOW_CONTROL_MIGRATION,
      relation: t.qualified,
      minRows: FLOW_PREPARE_MIN_ROWS,
      lockClass: 0x70726570,
      lockKey: `flow:${t.lockKey}`,
    },
    context,
    (queryRunner) => prepareFlowControl(queryRunner, t, context),
  );
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
