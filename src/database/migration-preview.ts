import { type DataSource, type QueryRunner } from 'typeorm';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import { takeMigrationLocksThenBoundTableLocks } from '../migrations/migration-lock.js';
import { type QueueTableNames } from '../sql/table-names.js';
import { applyPendingMigrations } from './migration-runner.js';

/** One statement as a migration sent it. */
export interface RecordedStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/** The statements a `migrate` would send now, grouped by the migration that sends them. */
export interface MigrationPreview {
  /** Before the first migration: the schema and `<table>_migrations`, created when missing. */
  readonly setup: readonly RecordedStatement[];
  /** Each pending migration, oldest first, with the statements it sends, its record last. */
  readonly migrations: readonly {
    readonly name: string;
    readonly statements: readonly RecordedStatement[];
  }[];
}

/**
 * Runs the pending migrations as `migrate` does, in one transaction under the same advisory
 * locks and lock timeout, records every statement they send (reads too: a migration decides
 * what to change from what it finds), then rolls the transaction back: nothing changes. The
 * DDL takes the table locks a `migrate` takes, for as long, released at the rollback.
 *
 * What this cannot show: adopting the Python backend's table and preparing a big table for
 * flow control, which `migrate` does first, in steps outside its transaction (concurrent index
 * builds cannot be rolled back). A table the package did not record creating is refused with
 * code 42P07, saying so; on a big table the flow-control migration's statements are shown as a
 * small table runs them.
 */
export async function previewPendingMigrations(
  dataSource: DataSource,
  names: QueueTableNames,
  lockTimeoutMs: number,
): Promise<MigrationPreview> {
  const queryRunner = dataSource.createQueryRunner('master');
  await queryRunner.connect();
  const recorded: RecordedStatement[] = [];
  try {
    await queryRunner.startTransaction();
    try {
      await takeMigrationLocksThenBoundTableLocks(queryRunner, names, lockTimeoutMs);
      recordQueries(queryRunner, recorded);
      await applyPendingMigrations(queryRunner, names);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === '42P07') throw unrecorded(names, error);
      throw error;
    } finally {
      await queryRunner.rollbackTransaction();
    }
  } finally {
    await queryRunner.release();
  }
  return groupByMigration(recorded, names);
}

/**
 * Keeps a copy of each statement the runner sends from now on. The runner is this preview's
 * own, released after it: nothing else ever sends through it.
 */
function recordQueries(queryRunner: QueryRunner, recorded: RecordedStatement[]): void {
  const send = queryRunner.query.bind(queryRunner) as (
    text: string,
    values?: unknown[],
    structured?: boolean,
  ) => Promise<unknown>;
  queryRunner.query = ((text: string, values?: unknown[], structured?: boolean) => {
    recorded.push({ text, values: values ?? [] });
    return send(text, values, structured);
  }) as QueryRunner['query'];
}

/**
 * Each migration ends with its record in `<table>_migrations` (an INSERT whose second value is
 * its name): the statements up to that one are the migration's.
 */
export function groupByMigration(
  recorded: readonly RecordedStatement[],
  names: QueueTableNames,
): MigrationPreview {
  const record = `INSERT INTO ${names.qualifiedMigrations} `;
  const migrations: { name: string; statements: RecordedStatement[] }[] = [];
  let current: RecordedStatement[] = [];
  let setup: RecordedStatement[] | undefined;
  for (const statement of recorded) {
    current.push(statement);
    if (!statement.text.startsWith(record)) continue;
    if (setup === undefined) {
      // The setup is what came before the first migration's first statement: the schema, the
      // migrations table and the read of its names, in that order (see applyPendingMigrations).
      const reads = current.findIndex((each) =>
        each.text.startsWith(`SELECT name FROM ${names.qualifiedMigrations}`),
      );
      setup = current.splice(0, reads + 1);
    }
    migrations.push({ name: String(statement.values[1]), statements: current });
    current = [];
  }
  return { setup: setup ?? current, migrations };
}

function unrecorded(names: QueueTableNames, cause: unknown): QueueDatabaseError {
  return new QueueDatabaseError(
    'migrationSql',
    `${names.schema}.${names.table} exists but ${names.migrationsTable} has no record of creating it: 'migrate' adopts the Python backend's table in steps this preview cannot show, and refuses any other table; nothing was changed`,
    { code: '42P07', cause },
  );
}
