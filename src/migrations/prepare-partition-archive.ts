import { type DataSource } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import {
  archiveLegacyNames,
  ensureLegacyIdIndex,
  ensureLegacyRange,
} from './1795585200000-partition-archive.js';
import { upgradeSteps } from './migration-lock.js';
import { prepareAheadIfPending, type PreparationContext } from './prepare-ahead.js';

/** The migration whose slow parts are done ahead of it on a big archive. */
export const PARTITION_ARCHIVE_MIGRATION = 'PartitionArchive1795585200000';

/**
 * From how many archived rows the archive is prepared ahead of the migration. Below it the
 * migration validates the bound and builds the id index in its transaction, holding the archive
 * for milliseconds.
 */
export const ARCHIVE_PREPARE_MIN_ROWS = 10_000;

/** The steps of a preparation; the one in a short transaction that locks the archive says so. */
export type ArchivePreparationStep = 'range (locks the archive)' | 'validate' | 'index';

/** What the runner tells the archive's preparation. */
export type ArchivePreparationContext = PreparationContext<ArchivePreparationStep>;

/**
 * Prepares a big archive for `PartitionArchive1795585200000` while the cleanup and the Python
 * backend keep writing to it: the old archive's upper bound as a CHECK constraint, added NOT
 * VALID (a catalog change under a short lock), validated under SHARE UPDATE EXCLUSIVE (inserts go
 * on), and a plain index on `id` built concurrently. The migration then attaches the old archive
 * as a partition without reading it. Every step may run again; one preparation at a time (a
 * session lock, class 'parc').
 *
 * @returns the earlier migrations it applied first.
 */
export function preparePartitionArchiveIfPending(
  dataSource: DataSource,
  t: QueueTableNames,
  context: ArchivePreparationContext,
): Promise<string[]> {
  return prepareAheadIfPending(
    dataSource,
    t,
    {
      migration: PARTITION_ARCHIVE_MIGRATION,
      relation: t.qualifiedArchive,
      minRows: ARCHIVE_PREPARE_MIN_ROWS,
      lockClass: 0x70617263,
      lockKey: `archive:${t.lockKey}`,
    },
    context,
    async (queryRunner) => {
      const { step, locked } = upgradeSteps<ArchivePreparationStep>(queryRunner, t, context);
      await locked('range (locks the archive)', async () => {
        await ensureLegacyRange(queryRunner, t, 'leave');
      });
      await step('validate', async () => {
        await queryRunner.query(
          `ALTER TABLE ${t.qualifiedArchive} VALIDATE CONSTRAINT ${archiveLegacyNames(t).rangeCheck}`,
        );
      });
      await step('index', () => ensureLegacyIdIndex(queryRunner, t, true));
    },
  );
}
