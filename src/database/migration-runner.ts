import { type DataSource, type QueryRunner } from 'typeorm';
import { withRetries } from '../async/with-retries.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { queueMigrations } from '../migrations/index.js';
import { takeMigrationLocks } from '../migrations/migration-lock.js';
import { type QueueTableNames } from '../sql/table-names.js';

/** Pauses before each new try of a migration that gave up waiting for a table lock. */
export const MIGRATION_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000];

export interface MigrationRunOptions {
  /** How long one DDL statement may wait for a table lock before the try gives up. */
  readonly lockTimeoutMs: number;
  /** Told before each new try, with the wait ahead. */
  readonly onRetry?: (error: unknown, delayMs: number) => void;
  readonly retryDelaysMs?: readonly number[];
}

/**
 * Applies the queue table's pending migrations in one transaction under an advisory lock, so ten
 * replicas booting together on an empty database create one schema: the first migrates, the others
 * wait on the lock, then find nothing left to do.
 *
 * A DDL statement waits at most `lockTimeoutMs` for its table lock. Waiting longer would queue
 * every statement of every worker behind it (an ACCESS EXCLUSIVE request blocks the readers that
 * come after it) for as long as some long transaction holds the table; instead the try is rolled
 * back and made again after a pause, a few times, then the boot fails with the lock error.
 *
 * A table of the queue's name that has no record in `<table>_migrations` is not adopted: the
 * migration fails with a {@link QueueDatabaseError} (code `42P07`) saying so. Other failures are
 * thrown as the driver gave them; the caller types them (it knows the password to scrub).
 *
 * Bookkeeping uses TypeORM's own migrations-table layout (`<table>_migrations`), so a TypeORM CLI
 * data source built from `queueMigrations(names)` sees this runner's work and the other way round.
 * It runs through a TypeORM query runner of whichever DataSource it is given, including one shared
 * with the application, without touching that DataSource's own migrations. The module at boot and
 * `migrateQueue` (the package's CLI) both run it.
 *
 * @returns the names of the migrations applied by this call.
 */
export async function runQueueMigrations(
  dataSource: DataSource,
  names: QueueTableNames,
  options: MigrationRunOptions,
): Promise<string[]> {
  return withRetries(() => migrateOnce(dataSource, names, options.lockTimeoutMs), {
    delaysMs: options.retryDelaysMs ?? MIGRATION_RETRY_DELAYS_MS,
    retryable: isLockTimeout,
    ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
  }).catch((error: unknown) => {
    throw refuseForeignTable(error, names);
  });
}

/**
 * `duplicate_table` while migrating: the first migration's CREATE TABLE met a table that exists
 * although `<table>_migrations` has no record of creating it. Its columns, constraints and data
 * are someone else's; altering it, or working on it unaltered, could break both owners.
 */
function refuseForeignTable(error: unknown, names: QueueTableNames): unknown {
  if ((error as { code?: unknown } | null)?.code !== '42P07') return error;
  return new QueueDatabaseError(
    'migrate',
    `${names.schema}.${names.table} already exists but was not created by @fetchcraft/queue (no record in ${names.migrationsTable}); choose another table or schema option`,
    { code: '42P07', cause: error },
  );
}

/** `lock_not_available`: a statement gave up waiting for a lock after `lock_timeout`. */
function isLockTimeout(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '55P03';
}

async function migrateOnce(
  dataSource: DataSource,
  names: QueueTableNames,
  lockTimeoutMs: number,
): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner('master');
  await queryRunner.connect();
  try {
    await queryRunner.startTransaction();
    try {
      // Another replica migrating is worth waiting for, however long it takes (the pool's lock
      // timeout would fail this wait and spend the retries on it); a table lock held elsewhere
      // is not.
      await queryRunner.query("SELECT set_config('lock_timeout', '0', true)");
      await takeMigrationLocks(queryRunner, names);
      await queryRunner.query("SELECT set_config('lock_timeout', $1::text, true)", [
        `${lockTimeoutMs}ms`,
      ]);
      await ensureQueueSchema(queryRunner, names);
      await queryRunner.query(`CREATE TABLE IF NOT EXISTS ${names.qualifiedMigrations} (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "timestamp" bigint NOT NULL,
  "name" character varying NOT NULL
)`);
      const rows = (await queryRunner.query(
        `SELECT name FROM ${names.qualifiedMigrations}`,
      )) as Array<{ name: string }>;
      const applied = new Set(rows.map((row) => row.name));
      const ran: string[] = [];
      for (const Migration of queueMigrations(names)) {
        const migration = new Migration();
        if (applied.has(migration.name)) continue;
        await migration.up(queryRunner);
        await queryRunner.query(
          `INSERT INTO ${names.qualifiedMigrations} ("timestamp", "name") VALUES ($1, $2)`,
          [Number(migration.name.slice(-13)), migration.name],
        );
        ran.push(migration.name);
      }
      await queryRunner.commitTransaction();
      return ran;
    } catch (error) {
      await queryRunner.rollbackTransaction();
      throw error;
    }
  } finally {
    await queryRunner.release();
  }
}

/** Creates the queue's schema when it is missing. */
export async function ensureQueueSchema(
  queryRunner: QueryRunner,
  names: QueueTableNames,
): Promise<void> {
  // Not CREATE SCHEMA IF NOT EXISTS: that needs the CREATE privilege even when the schema exists.
  const schemas = (await queryRunner.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
    names.schema,
  ])) as unknown[];
  if (schemas.length === 0) {
    await queryRunner.query(`CREATE SCHEMA ${names.quotedSchema}`);
  }
}

/**
 * The names recorded in `<table>_migrations`, in the order they ran; empty when the schema or the
 * table does not exist. Reads only: no lock, nothing created.
 */
export async function readAppliedMigrations(
  dataSource: DataSource,
  names: QueueTableNames,
): Promise<string[]> {
  // to_regclass answers NULL for a missing schema or table, where a SELECT would fail.
  const [found] = await dataSource.query<Array<{ found: boolean }>>(
    'SELECT to_regclass($1::text) IS NOT NULL AS found',
    [names.qualifiedMigrations],
  );
  if (found?.found !== true) return [];
  const rows = await dataSource.query<Array<{ name: string }>>(
    `SELECT name FROM ${names.qualifiedMigrations} ORDER BY id`,
  );
  return rows.map((row) => row.name);
}
