import { type DataSource, type QueryRunner } from 'typeorm';
import { type QueueTableNames } from '../sql/table-names.js';

/** First half of the advisory lock keys of migrations ('queu'); the second is a hashed name. */
const MIGRATION_LOCK_CLASS = 0x71756575;

/**
 * Takes, until the transaction ends, the advisory locks that serialise migrations (after lifting
 * the statement timeout for the transaction): the schema's
 * first (two tables of one new schema must not both create it), then the table's (the key the
 * module has always used). The module's runner takes them, and so does every migration, so the
 * TypeORM CLI path is serialised with booting replicas too; taking them again in the same
 * transaction costs nothing. Every process takes them in the same order, so they cannot deadlock.
 */
export async function takeMigrationLocks(
  queryRunner: QueryRunner,
  names: QueueTableNames,
): Promise<void> {
  // DDL on a big table (an index build) may rightly outlast the pool's statement timeout, and so
  // may the wait for another process's migration: lifted before the locks are taken, or a replica
  // booting behind a migration longer than the timeout failed with 57014 and was never retried.
  await queryRunner.query("SELECT set_config('statement_timeout', '0', true)");
  for (const key of [`schema:${names.schema}`, names.lockKey]) {
    await queryRunner.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [
      MIGRATION_LOCK_CLASS,
      key,
    ]);
  }
}

/**
 * The start of a migrating transaction: the migration locks, waited for however long another
 * process's migration takes (the pool's lock timeout would fail that wait and spend the retries
 * on it), then `lockTimeoutMs` for every table lock the DDL asks for, so that no application
 * statement queues behind a long wait of ours.
 */
export async function takeMigrationLocksThenBoundTableLocks(
  queryRunner: QueryRunner,
  names: QueueTableNames,
  lockTimeoutMs: number,
): Promise<void> {
  await queryRunner.query("SELECT set_config('lock_timeout', '0', true)");
  await takeMigrationLocks(queryRunner, names);
  await queryRunner.query("SELECT set_config('lock_timeout', $1::text, true)", [
    `${lockTimeoutMs}ms`,
  ]);
}

/**
 * One transaction of a step that locks a table while a big table is upgraded in steps: under the
 * migration locks (so no other process migrates meanwhile), waiting at most `lockTimeoutMs` for
 * a table lock, so that the statements of producers and workers (the Python backend's too) never
 * queue behind a long wait of ours.
 */
export async function inShortTransaction(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  lockTimeoutMs: number,
  work: () => Promise<void>,
): Promise<void> {
  await queryRunner.startTransaction();
  try {
    await takeMigrationLocksThenBoundTableLocks(queryRunner, t, lockTimeoutMs);
    await work();
    await queryRunner.commitTransaction();
  } catch (error) {
    await queryRunner.rollbackTransaction();
    throw error;
  }
}

/** How an upgrade in steps reports its steps, and how long a table lock may be waited for. */
export interface StepContext<Step> {
  readonly lockTimeoutMs: number;
  /** Told after each step, with its duration. */
  readonly onStep?: (step: Step, durationMs: number) => void;
}

/**
 * The two ways an upgrade in steps runs a step, each timed and reported to `onStep`: `step` as
 * it is (outside any transaction: a concurrent index build, a backfill batch), `locked` as one
 * short transaction that may lock the table (see `inShortTransaction`).
 */
export function upgradeSteps<Step>(
  queryRunner: QueryRunner,
  t: QueueTableNames,
  context: StepContext<Step>,
): {
  readonly step: (name: Step, work: () => Promise<void>) => Promise<void>;
  readonly locked: (name: Step, work: () => Promise<void>) => Promise<void>;
} {
  const step = async (name: Step, work: () => Promise<void>): Promise<void> => {
    const started = performance.now();
    await work();
    context.onStep?.(name, performance.now() - started);
  };
  const locked = (name: Step, work: () => Promise<void>): Promise<void> =>
    step(name, () => inShortTransaction(queryRunner, t, context.lockTimeoutMs, work));
  return { step, locked };
}

/** A session advisory lock: its class (the key's first half) and the text hashed into the second. */
export interface SessionLock {
  readonly lockClass: number;
  readonly key: string;
}

/** How often a process waiting for another's upgrade in steps asks for its lock again. */
const SESSION_LOCK_POLL_MS = 200;

/**
 * Runs `work` on a connection of its own, outside any transaction, holding a session advisory
 * lock, so that one process at a time upgrades a big table in steps (adopting the Python
 * backend's table, preparing flow control). Its statement timeout is lifted (a validation or an
 * index build on a big table may outlast it) and its table locks wait at most `lockTimeoutMs`;
 * its settings are reset before it goes back to the pool.
 *
 * The lock is waited for by asking again and again, never inside one long statement: the
 * holder's CREATE INDEX CONCURRENTLY waits for every transaction whose snapshot is older than its
 * own, and a process blocked in `pg_advisory_lock` is one, which waits for the holder in turn: a
 * deadlock (measured: four processes booting at once failed with 40P01).
 */
export async function withSessionLock<T>(
  dataSource: DataSource,
  lock: SessionLock,
  lockTimeoutMs: number,
  work: (queryRunner: QueryRunner) => Promise<T>,
): Promise<T> {
  const queryRunner = dataSource.createQueryRunner('master');
  await queryRunner.connect();
  try {
    await queryRunner.query("SELECT set_config('lock_timeout', '0', false)");
    await queryRunner.query("SELECT set_config('statement_timeout', '0', false)");
    for (;;) {
      const [row] = (await queryRunner.query(
        'SELECT pg_try_advisory_lock($1::integer, hashtext($2::text)) AS taken',
        [lock.lockClass, lock.key],
      )) as Array<{ taken: boolean }>;
      if (row?.taken === true) break;
      await new Promise((resolve) => setTimeout(resolve, SESSION_LOCK_POLL_MS));
    }
    try {
      await queryRunner.query("SELECT set_config('lock_timeout', $1::text, false)", [
        `${lockTimeoutMs}ms`,
      ]);
      return await work(queryRunner);
    } finally {
      await queryRunner.query('SELECT pg_advisory_unlock($1::integer, hashtext($2::text))', [
        lock.lockClass,
        lock.key,
      ]);
    }
  } finally {
    await queryRunner.query('RESET lock_timeout').catch(() => undefined);
    await queryRunner.query('RESET statement_timeout').catch(() => undefined);
    await queryRunner.release();
  }
}
