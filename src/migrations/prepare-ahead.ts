import { type DataSource, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';
import { queueMigrationNames } from './index.js';
import { type StepContext, withSessionLock } from './migration-lock.js';

/** What a preparation ahead of a migration is told by the runner. */
export interface PreparationContext<Step> extends StepContext<Step> {
  /**
   * Applies the pending migrations before the prepared one, in their transaction (after adopting
   * the Python backend's table, say): what the preparation adds must come after theirs.
   * @returns the names it applied.
   */
  readonly migrateEarlier: () => Promise<string[]>;
}

/** Which migration a preparation is for, on which relation, and from how many rows. */
export interface PreparedMigration {
  /** The migration's name, e.g. `AddFlowControl1795570800000`. */
  readonly migration: string;
  /** The plain table whose size decides (quoted, schema-qualified). */
  readonly relation: string;
  /** Below this many rows the migration does it all in its transaction, in milliseconds. */
  readonly minRows: number;
  /** The session lock that keeps one preparation at a time per table. */
  readonly lockClass: number;
  readonly lockKey: string;
}

/**
 * Runs `prepare` ahead of `target.migration` when that migration is pending on a plain
 * `target.relation` of at least `target.minRows` rows; otherwise does nothing. Pending earlier
 * migrations are applied first (see `migrateEarlier`). The check is made again under the session
 * lock, since another process may have prepared or migrated meanwhile; every preparation step
 * must be safe to run again, so that a boot after a crash anywhere resumes.
 *
 * @returns the earlier migrations it applied first.
 */
export async function prepareAheadIfPending<Step>(
  dataSource: DataSource,
  t: QueueTableNames,
  target: PreparedMigration,
  context: PreparationContext<Step>,
  prepare: (queryRunner: QueryRunner) => Promise<void>,
): Promise<string[]> {
  // The common case, nothing pending or a small table, costs catalog reads and takes no lock.
  const seen = await pendingOnBigRelation(dataSource, t, target);
  if (seen === 'no') return [];
  const earlier = seen === 'after earlier' ? await context.migrateEarlier() : [];
  return withSessionLock(
    dataSource,
    { lockClass: target.lockClass, key: target.lockKey },
    context.lockTimeoutMs,
    async (queryRunner) => {
      if ((await pendingOnBigRelation(queryRunner, t, target)) === 'yes')
        await prepare(queryRunner);
      return earlier;
    },
  );
}

/**
 * Whether the migration is pending on a plain relation with enough rows to prepare, and whether
 * migrations before it are pending too. A table with no record of being created (the Python
 * backend's before adoption, someone else's) is left to the runner.
 */
async function pendingOnBigRelation(
  source: DataSource | QueryRunner,
  t: QueueTableNames,
  target: PreparedMigration,
): Promise<'no' | 'yes' | 'after earlier'> {
  const [found] = (await source.query(
    `SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass($1::text)) AS relkind,
  to_regclass($2::text) IS NOT NULL AS has_migrations`,
    [target.relation, t.qualifiedMigrations],
  )) as Array<{ relkind: string | null; has_migrations: boolean }>;
  if (found?.relkind !== 'r' || !found.has_migrations) return 'no';
  const applied = new Set(
    (
      (await source.query(`SELECT name FROM ${t.qualifiedMigrations}`)) as Array<{ name: string }>
    ).map((row) => row.name),
  );
  const names = queueMigrationNames(t);
  const earlier = names.slice(0, names.indexOf(target.migration));
  if (applied.has(target.migration) || !applied.has(earlier[0]!)) return 'no';
  const [counted] = (await source.query(
    `SELECT count(*)::integer AS n FROM (SELECT 1 FROM ${target.relation} LIMIT $1::integer) AS sample`,
    [target.minRows],
  )) as Array<{ n: number }>;
  if (counted!.n < target.minRows) return 'no';
  return earlier.every((name) => applied.has(name)) ? 'yes' : 'after earlier';
}
