import { type DataSource, type QueryRunner } from 'typeorm';
import { queueMigrations } from '../migrations/index.js';
import { type QueueTableNames } from '../sql/table-names.js';

/** First half of the advisory lock key of migrations ('queu'); the second is hashtext(schema.table). */
const MIGRATION_LOCK_CLASS = 0x71756575;

/**
 * Applies the queue table's pending migrations in one transaction under an advisory lock, so ten
 * replicas booting together on an empty database create one schema: the first migrates, the others
 * wait on the lock, then find nothing left to do.
 *
 * Bookkeeping uses TypeORM's own migrations-table layout (`<table>_migrations`), so this runner and
 * `typeorm migration:run -d ormconfig.ts` see each other's work. It runs through a TypeORM query
 * runner of whichever DataSource the module uses, including one shared with the application,
 * without touching that DataSource's own migrations.
 *
 * @returns the names of the migrations applied by this call.
 */
export async function runQueueMigrations(
  dataSource: DataSource,
  names: QueueTableNames,
): Promise<string[]> {
  const queryRunner = dataSource.createQueryRunner('master');
  await queryRunner.connect();
  try {
    await queryRunner.startTransaction();
    try {
      await queryRunner.query('SELECT pg_advisory_xact_lock($1::integer, hashtext($2::text))', [
        MIGRATION_LOCK_CLASS,
        names.lockKey,
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
