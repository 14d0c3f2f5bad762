import { type DataSource } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import {
  createNarrowStateIndexConcurrentlySql,
  readStateIndexes,
} from './1795592400000-narrow-state-index.js';
import { upgradeSteps } from './migration-lock.js';
import { prepareAheadIfPending, type PreparationContext } from './prepare-ahead.js';

/** The migration whose index build is done ahead of it on a big table. */
export const NARROW_STATE_MIGRATION = 'NarrowStateIndex1795592400000';

/**
 * From how many rows the narrow state index is built concurrently ahead of the migration. Below
 * it the migration builds it in its transaction: a partial index over a few thousand rows holds
 * writers back for milliseconds.
 */
export const NARROW_STATE_PREPARE_MIN_ROWS = 10_000;

/** The one step of this preparation. */
export type NarrowStatePreparationStep = 'index';

/** What the runner tells the narrow state index's preparation. */
export type NarrowStatePreparationContext = PreparationContext<NarrowStatePreparationStep>;

/**
 * Builds the narrow state index concurrently (as `idx_<table>_state_narrow`) while producers and
 * workers, ours and the Python backend's, keep writing, when `NarrowStateIndex1795592400000` is
 * pending on a table of at least {@link NARROW_STATE_PREPARE_MIN_ROWS} rows. The migration then
 * only drops the full index and renames this one. An invalid index an interrupted build left is
 * dropped and built again; one preparation at a time per table (a session lock, class 'nsti').
 *
 * @returns the earlier migrations it applied first.
 */
export function prepareNarrowStateIndexIfPending(
  dataSource: DataSource,
  t: QueueTableNames,
  context: NarrowStatePreparationContext,
): Promise<string[]> {
  return prepareAheadIfPending(
    dataSource,
    t,
    {
      migration: NARROW_STATE_MIGRATION,
      relation: t.qualified,
      minRows: NARROW_STATE_PREPARE_MIN_ROWS,
      lockClass: 0x6e737469,
      lockKey: `state:${t.lockKey}`,
    },
    context,
    async (queryRunner) => {
      const { step } = upgradeSteps<NarrowStatePreparationStep>(queryRunner, t, context);
      const found = await readStateIndexes(queryRunner, t);
      if (found.state === 'narrow' || found.prepared === 'valid') return;
      await step('index', async () => {
        if (found.prepared === 'invalid') {
          await queryRunner.query(
            `DROP INDEX CONCURRENTLY IF EXISTS ${t.quotedSchema}.${t.indexes.stateNarrow}`,
          );
        }
        await queryRunner.query(createNarrowStateIndexConcurrentlySql(t));
      });
    },
  );
}
