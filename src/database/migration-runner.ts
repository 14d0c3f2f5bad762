import { type DataSource, type QueryRunner } from 'typeorm';
import { withRetries } from '../async/with-retries.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import {
  ADOPTED_MIGRATION,
  adoptPythonTable,
  type AdoptionStep,
} from '../migrations/adopt-python-table.js';
import { queueMigrationNames, queueMigrations } from '../migrations/index.js';
import {
  takeMigrationLocksThenBoundTableLocks,
  withSessionLock,
} from '../migrations/migration-lock.js';
import {
  FLOW_CONTROL_MIGRATION,
  prepareFlowControlIfPending,
  type FlowPreparationStep,
} from '../migrations/prepare-flow-control.js';
import {
  PARTITION_ARCHIVE_MIGRATION,
  preparePartitionArchiveIfPending,
  type ArchivePreparationStep,
} from '../migrations/prepare-partition-archive.js';
import {
  NARROW_STATE_MIGRATION,
  prepareNarrowStateIndexIfPending,
  type NarrowStatePreparationStep,
} from '../migrations/prepare-narrow-state-index.js';
import { type QueueTableNames } from '../sql/table-names.js';
import { privilegeFailure } from './privilege-failure.js';

/** Pauses before each new try of a migration that gave up waiting for a table lock. */
export const MIGRATION_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000, 8_000];

export interface MigrationRunOptions {
  /** How long one DDL statement may wait for a table lock before the try gives up. */
  readonly lockTimeoutMs: number;
  /** Told before each new try, with the wait ahead. */
  readonly onRetry?: (error: unknown, delayMs: number) => void;
  readonly retryDelaysMs?: readonly number[];
  /** Told after each step of adopting the Python backend's table, with its duration. */
  readonly onAdoptionStep?: (step: AdoptionStep, durationMs: number) => void;
  /** Told after each step of preparing a big table for flow control, with its duration. */
  readonly onFlowControlStep?: (step: FlowPreparationStep, durationMs: number) => void;
  /** Told after each step of preparing a big archive for partitioning, with its duration. */
  readonly onArchiveStep?: (step: ArchivePreparationStep, durationMs: number) => void;
  /** Told after the concurrent build of the narrow state index on a big table, with its duration. */
  readonly onStateIndexStep?: (step: NarrowStatePreparationStep, durationMs: number) => void;
  /** The first migration not to apply (it and those after it stay pending); all when absent. */
  readonly stopBefore?: string;
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
 * A big table that the flow-control migration is pending on gets that migration's columns,
 * checks and indexes first, without being held for long (see `prepareFlowControlIfPending`); the
 * migration then finds them in place.
 *
 * A table of the queue's name that has no record in `<table>_migrations` is the Python backend's
 * (`AsyncPostgresQueue`) or someone else's; this runner alone decides which (see
 * {@link inspectUnrecordedTable}). The Python backend's is adopted in place first (see
 * `adoptPythonTable`: brief table locks, its workers keep running), then the numbered migrations
 * after the first run as usual. One that looks like it but cannot be adopted (a column of another
 * type, say) stops with a {@link QueueDatabaseError} naming the column and what was expected,
 * before anything changes; any other fails with code `42P07` as before. Other failures are
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
  let pending: string[];
  try {
    pending = await pendingMigrations(dataSource, names, options.stopBefore);
  } catch (error) {
    throw (await privilegeFailure(dataSource, names, error, undefined)) ?? error;
  }
  // Up to date: nothing to lock or create, so an application role that owns nothing boots too
  // (CREATE TABLE IF NOT EXISTS needs CREATE on the schema even when the table exists).
  if (pending.length === 0) return [];
  let adopted = false;
  const prepared: string[] = [];
  const once = async (): Promise<string[]> => {
    adopted = (await adoptIfPythonTable(dataSource, names, options)) || adopted;
    // A big table gets flow control's columns, checks and indexes without being held for long.
    if (reaches(names, options.stopBefore, FLOW_CONTROL_MIGRATION)) {
      prepared.push(
        ...(await prepareFlowControlIfPending(dataSource, names, {
          lockTimeoutMs: options.lockTimeoutMs,
          migrateEarlier: () =>
            migrateOnce(dataSource, names, options.lockTimeoutMs, FLOW_CONTROL_MIGRATION),
          ...(options.onFlowControlStep === undefined ? {} : { onStep: options.onFlowControlStep }),
        })),
      );
    }
    // A big archive gets its bound validated and its id index built without being held.
    if (reaches(names, options.stopBefore, PARTITION_ARCHIVE_MIGRATION)) {
      prepared.push(
        ...(await preparePartitionArchiveIfPending(dataSource, names, {
          lockTimeoutMs: options.lockTimeoutMs,
          migrateEarlier: () =>
            migrateOnce(dataSource, names, options.lockTimeoutMs, PARTITION_ARCHIVE_MIGRATION),
          ...(options.onArchiveStep === undefined ? {} : { onStep: options.onArchiveStep }),
        })),
      );
    }
    // A big table gets its narrow state index built concurrently, without being held.
    if (reaches(names, options.stopBefore, NARROW_STATE_MIGRATION)) {
      prepared.push(
        ...(await prepareNarrowStateIndexIfPending(dataSource, names, {
          lockTimeoutMs: options.lockTimeoutMs,
          migrateEarlier: () =>
            migrateOnce(dataSource, names, options.lockTimeoutMs, NARROW_STATE_MIGRATION),
          ...(options.onStateIndexStep === undefined ? {} : { onStep: options.onStateIndexStep }),
        })),
      );
    }
    try {
      return await migrateOnce(dataSource, names, options.lockTimeoutMs, options.stopBefore);
    } catch (error) {
      // The Python backend created its table between our look and our CREATE TABLE: adopt it.
      if ((error as { code?: unknown } | null)?.code !== '42P07') throw error;
      if (!(await adoptIfPythonTable(dataSource, names, options))) throw error;
      adopted = true;
      return migrateOnce(dataSource, names, options.lockTimeoutMs, options.stopBefore);
    }
  };
  const ran = await withRetries(once, {
    delaysMs: options.retryDelaysMs ?? MIGRATION_RETRY_DELAYS_MS,
    retryable: isLockTimeout,
    ...(options.onRetry === undefined ? {} : { onRetry: options.onRetry }),
  }).catch(async (error: unknown) => {
    throw (
      (await privilegeFailure(dataSource, names, error, pending)) ??
      refuseForeignTable(error, names)
    );
  });
  return [...(adopted ? [ADOPTED_MIGRATION] : []), ...prepared, ...ran];
}

/** Whether a run that stops before `stopBefore` (all of them when absent) applies `migration`. */
function reaches(
  names: QueueTableNames,
  stopBefore: string | undefined,
  migration: string,
): boolean {
  if (stopBefore === undefined) return true;
  const order = queueMigrationNames(names);
  const stop = order.indexOf(stopBefore);
  return stop === -1 || stop > order.indexOf(migration);
}

/** The columns of the Python backend's `messages` table: type, and whether NOT NULL. */
const PYTHON_COLUMNS: ReadonlyArray<readonly [string, string, boolean]> = [
  ['id', 'text', true],
  ['queue', 'text', true],
  ['body', 'jsonb', true],
  ['available_at', 'bigint', true],
  ['lease_until', 'bigint', false],
  ['attempts', 'integer', true],
  ['state', 'text', true],
  ['created_at', 'bigint', true],
];

/** Columns an interrupted adoption may have added already. */
const ADOPTION_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['seq', 'bigint'],
  ['lease_token', 'uuid'],
  ['last_error', 'jsonb'],
  ['origin_queue', 'text'],
];

/** What stands at the queue table's name when `<table>_migrations` does not record creating it. */
type UnrecordedTable = 'none' | 'recorded' | 'python';

/**
 * The one owner of the rule "whose table is this": nothing at the name, or one recorded in
 * `<table>_migrations` (`none`/`recorded`: the numbered migrations handle it); the Python
 * backend's, to adopt (`python`: its eight columns and nothing else, `id` its primary key, its
 * rows within our CHECK constraints, its index names on this table); or a table that has all
 * eight columns but breaks one of these, which throws a {@link QueueDatabaseError} naming what
 * differs and what was expected. A table missing any of the eight columns is someone else's:
 * `foreign`, refused with 42P07 as before. Reads only.
 */
async function inspectUnrecordedTable(
  dataSource: DataSource | QueryRunner,
  names: QueueTableNames,
): Promise<UnrecordedTable | 'foreign'> {
  const [found] = (await dataSource.query(
    `SELECT c.oid::bigint AS oid, c.relkind,
  to_regclass($3::text) IS NOT NULL AS has_migrations
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = $1::text AND c.relname = $2::text`,
    [names.schema, names.table, names.qualifiedMigrations],
  )) as Array<{ oid: string; relkind: string; has_migrations: boolean }>;
  if (found === undefined) return 'none';
  if (found.has_migrations) {
    const recorded = (await dataSource.query(
      `SELECT 1 FROM ${names.qualifiedMigrations} WHERE name = $1::text`,
      [ADOPTED_MIGRATION],
    )) as unknown[];
    if (recorded.length > 0) return 'recorded';
  }
  if (found.relkind !== 'r') return 'foreign';
  const columns = (await dataSource.query(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
  EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = a.attrelid AND i.indisprimary
    AND i.indnatts = 1 AND i.indkey[0] = a.attnum) AS primary_key
FROM pg_attribute AS a WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped`,
    [found.oid],
  )) as Array<{ name: string; type: string; not_null: boolean; primary_key: boolean }>;
  const byName = new Map(columns.map((column) => [column.name, column]));
  if (PYTHON_COLUMNS.some(([name]) => !byName.has(name))) return 'foreign';

  const refuse = (what: string): never => {
    throw new QueueDatabaseError(
      'migrate',
      `${names.schema}.${names.table} looks like the Python backend's table but cannot be adopted: ${what}; nothing was changed`,
      { code: '42804' },
    );
  };
  for (const [name, type, notNull] of PYTHON_COLUMNS) {
    const column = byName.get(name)!;
    if (column.type !== type) refuse(`column "${name}" is ${column.type}, expected ${type}`);
    if (notNull && !column.not_null) refuse(`column "${name}" allows NULL, expected NOT NULL`);
  }
  if (!byName.get('id')!.primary_key)
    refuse('column "id" is not the primary key, expected PRIMARY KEY (id)');
  for (const column of columns) {
    if (PYTHON_COLUMNS.some(([name]) => name === column.name)) continue;
    const expected = ADOPTION_COLUMNS.find(([name]) => name === column.name)?.[1];
    if (expected === undefined) {
      refuse(`column "${column.name}" is neither the Python backend's nor ours`);
    } else if (column.type !== expected) {
      refuse(`column "${column.name}" is ${column.type}, expected ${expected}`);
    }
  }
  const [rows] = (await dataSource.query(
    `SELECT count(*) FILTER (WHERE state NOT IN ('ready', 'leased', 'done', 'failed'))::integer AS bad_state,
  count(*) FILTER (WHERE state = 'leased' AND lease_until IS NULL)::integer AS bad_lease,
  count(*) FILTER (WHERE attempts < 0)::integer AS bad_attempts
FROM ${names.qualified}`,
  )) as Array<{ bad_state: number; bad_lease: number; bad_attempts: number }>;
  if (rows!.bad_state > 0) {
    refuse(`${rows!.bad_state} rows have a state other than ready, leased, done or failed`);
  }
  if (rows!.bad_lease > 0) refuse(`${rows!.bad_lease} leased rows have no lease_until`);
  if (rows!.bad_attempts > 0) refuse(`${rows!.bad_attempts} rows have negative attempts`);
  const [taken] = (await dataSource.query(
    `SELECT c.relname AS name FROM pg_class AS c JOIN pg_index AS i ON i.indexrelid = c.oid
WHERE c.relnamespace = $1::regnamespace AND c.relname = ANY ($2::text[]) AND i.indrelid <> $3::oid
LIMIT 1`,
    [
      names.quotedSchema,
      ['queue_avail', 'state', 'lease', 'origin'].map((suffix) => `idx_${names.table}_${suffix}`),
      found.oid,
    ],
  )) as Array<{ name: string }>;
  if (taken !== undefined) refuse(`index name "${taken.name}" belongs to another table`);
  return 'python';
}

/**
 * Adopts the Python backend's table when one stands at the queue's name unrecorded; refuses a
 * table that cannot be adopted. One adoption at a time per table: the others wait on a session
 * advisory lock, then find it done. @returns whether this call adopted it.
 */
async function adoptIfPythonTable(
  dataSource: DataSource,
  names: QueueTableNames,
  options: MigrationRunOptions,
): Promise<boolean> {
  // The common case, a table of ours or none, costs two catalog reads and takes no lock.
  const seen = await inspectUnrecordedTable(dataSource, names);
  if (seen === 'none' || seen === 'recorded') return false;
  if (seen === 'foreign') throw foreignTable(names);
  return withSessionLock(
    dataSource,
    { lockClass: ADOPTION_LOCK_CLASS, key: `adopt:${names.lockKey}` },
    options.lockTimeoutMs,
    async (queryRunner) => {
      const now = await inspectUnrecordedTable(queryRunner, names);
      if (now === 'foreign') throw foreignTable(names);
      if (now !== 'python') return false;
      await adoptPythonTable(queryRunner, names, {
        lockTimeoutMs: options.lockTimeoutMs,
        ...(options.onAdoptionStep === undefined ? {} : { onStep: options.onAdoptionStep }),
      });
      return true;
    },
  );
}

/** First half of the adoption lock's key ('adop'), apart from the migrations' ('queu'). */
const ADOPTION_LOCK_CLASS = 0x61646f70;

/**
 * `duplicate_table` while migrating: the first migration's CREATE TABLE met a table that exists
 * although `<table>_migrations` has no record of creating it. Its columns, constraints and data
 * are someone else's; altering it, or working on it unaltered, could break both owners.
 */
function refuseForeignTable(error: unknown, names: QueueTableNames): unknown {
  if ((error as { code?: unknown } | null)?.code !== '42P07') return error;
  if (error instanceof QueueDatabaseError) return error;
  return foreignTable(names, error);
}

/** A table of the queue's name that is neither ours nor the Python backend's. */
function foreignTable(names: QueueTableNames, cause?: unknown): QueueDatabaseError {
  return new QueueDatabaseError(
    'migrate',
    `${names.schema}.${names.table} already exists but was not created by @fetchcraft/queue (no record in ${names.migrationsTable}); choose another table or schema option`,
    { code: '42P07', ...(cause === undefined ? {} : { cause }) },
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
  stopBefore?: string,
): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner('master');
  await queryRunner.connect();
  try {
    await queryRunner.startTransaction();
    try {
      // Another replica migrating is worth waiting for; a table lock held elsewhere is not.
      await takeMigrationLocksThenBoundTableLocks(queryRunner, names, lockTimeoutMs);
      const ran = await applyPendingMigrations(queryRunner, names, stopBefore);
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

/**
 * The body of a migrating transaction, after its locks: the schema and `<table>_migrations`
 * created when missing, then each pending migration applied and recorded, oldest first, up to
 * `stopBefore`. The caller commits (`migrate`) or rolls back (`migrate:sql`'s preview).
 *
 * @returns the names of the migrations applied.
 */
export async function applyPendingMigrations(
  queryRunner: QueryRunner,
  names: QueueTableNames,
  stopBefore?: string,
): Promise<string[]> {
  await ensureQueueSchema(queryRunner, names);
  await queryRunner.query(`CREATE TABLE IF NOT EXISTS ${names.qualifiedMigrations} (
  "id" SERIAL NOT NULL PRIMARY KEY,
  "timestamp" bigint NOT NULL,
  "name" character varying NOT NULL
)`);
  const rows = (await queryRunner.query(`SELECT name FROM ${names.qualifiedMigrations}`)) as Array<{
    name: string;
  }>;
  const applied = new Set(rows.map((row) => row.name));
  const ran: string[] = [];
  for (const Migration of queueMigrations(names)) {
    const migration = new Migration();
    if (migration.name === stopBefore) break;
    if (applied.has(migration.name)) continue;
    await migration.up(queryRunner);
    await queryRunner.query(
      `INSERT INTO ${names.qualifiedMigrations} ("timestamp", "name") VALUES ($1, $2)`,
      [Number(migration.name.slice(-13)), migration.name],
    );
    ran.push(migration.name);
  }
  return ran;
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
 * The migrations of this version not recorded in `<table>_migrations`, oldest first, up to
 * `stopBefore`; all of them when the table does not exist. Reads only.
 */
async function pendingMigrations(
  dataSource: DataSource,
  names: QueueTableNames,
  stopBefore: string | undefined,
): Promise<string[]> {
  const applied = new Set(await readAppliedMigrations(dataSource, names));
  const pending: string[] = [];
  for (const name of queueMigrationNames(names)) {
    if (name === stopBefore) break;
    if (!applied.has(name)) pending.push(name);
  }
  return pending;
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

/**
 * What `<table>_migrations` records against this version's migrations: `applied` in the order
 * they ran, `pending` (this version's, not recorded) and `unknown` (recorded by a newer release).
 * Reads only.
 */
export async function readMigrationStatus(
  dataSource: DataSource,
  names: QueueTableNames,
): Promise<{ applied: string[]; pending: string[]; unknown: string[] }> {
  const applied = await readAppliedMigrations(dataSource, names);
  const known = queueMigrationNames(names);
  const recorded = new Set(applied);
  return {
    applied,
    pending: known.filter((name) => !recorded.has(name)),
    unknown: applied.filter((name) => !known.includes(name)),
  };
}
