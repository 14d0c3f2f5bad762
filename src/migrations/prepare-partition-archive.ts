import { type DataSource, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import {
  archiveLegacyNames,
  ensureLegacyIdIndex,
  ensureLegacyRange,
} from './1795585200000-partition-archive.js';
import { queueMigrations } from './index.js';
import { upgradeSteps, withSessionLock } from './migration-lock.js';

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

export interface ArchivePreparationContext {
  readonly lockTimeoutMs: number;
  readonly onStep?: (step: ArchivePreparationStep, durationMs: number) => void;
  /** Applies the pending migrations before this one, in their transaction. @returns their names. */
  readonly migrateEarlier: () => Promise<string[]>;
}

/** First half of this preparation's session lock key ('parc'). */
const PREPARATION_LOCK_CLASS = 0x70617263;

/**
 * Prepares a big archive for `PartitionArchive1795585200000` while the cleanup and the Python
 * backend keep writing to it: the old archive's upper bound as a CHECK constraint, added NOT
 * VALID (a catalog change under a short lock), validated under SHARE UPDATE EXCLUSIVE (inserts go
 * on), and a plain index on `id` built concurrently. The migration then attaches the old archive
 * as a partition without reading it. Every step may run again; one preparation at a time.
 *
 * @returns the earlier migrations it applied first.
 */
export async function preparePartitionArchiveIfPending(
  dataSource: DataSource,
  t: QueueTableNames,
  context: ArchivePreparationContext,
): Promise<string[]> {
  const seen = await pendingOnBigArchive(dataSource, t);
  if (seen === 'no') return [];
  const earlier = seen === 'after earlier' ? await context.migrateEarlier() : [];
  return withSessionLock(
    dataSource,
    { lockClass: PREPARATION_LOCK_CLASS, key: `archive:${t.lockKey}` },
    context.lockTimeoutMs,
    async (queryRunner) => {
      if ((await pendingOnBigArchive(queryRunner, t)) !== 'yes') return earlier;
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
      return earlier;
    },
  );
}

/** Whether the migration is pending on a plain archive of many rows, after earlier ones or not. */
async function pendingOnBigArchive(
  source: DataSource | QueryRunner,
  t: QueueTableNames,
): Promise<'no' | 'yes' | 'after earlier'> {
  const [found] = (await source.query(
    `SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass($1::text)) AS relkind,
  to_regclass($2::text) IS NOT NULL AS has_migrations`,
    [t.qualifiedArchive, t.qualifiedMigrations],
  )) as Array<{ relkind: string | null; has_migrations: boolean }>;
  if (found?.relkind !== 'r' || !found.has_migrations) return 'no';
  const applied = new Set(
    (
      (await source.query(`SELECT name FROM ${t.qualifiedMigrations}`)) as Array<{ name: string }>
    ).map((row) => row.name),
  );
  if (applied.has(PARTITION_ARCHIVE_MIGRATION)) return 'no';
  const [counted] = (await source.query(
    `SELECT count(*)::integer AS n FROM (SELECT 1 FROM ${t.qualifiedArchive} LIMIT $1::integer) AS sample`,
    [ARCHIVE_PREPARE_MIN_ROWS],
  )) as Array<{ n: number }>;
  if (counted!.n < ARCHIVE_PREPARE_MIN_ROWS) return 'no';
  const names = queueMigrations(t).map((Migration) => new Migration().name);
  const earlier = names.slice(0, names.indexOf(PARTITION_ARCHIVE_MIGRATION));
  return earlier.every((name) => applied.has(name)) ? 'yes' : 'after earlier';
}
