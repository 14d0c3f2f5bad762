/**
 * The DataSource the TypeORM CLI uses to manage the queue table by hand:
 *
 *   DATABASE_URL=postgres://… npm run migration:run   (or migration:show)
 *
 * `QUEUE_SCHEMA` and `QUEUE_TABLE` select the table (defaults `public`, `messages`), matching the
 * module's `schema`/`table` options. The module applies the same migrations at boot unless
 * `migrationsRun: false`; both record them in `<table>_migrations`.
 */
import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { queueMigrations } from './src/migrations/index.js';
import { ownedDataSourceOptions } from './src/config/data-source-options.js';
import { resolveQueueConfig } from './src/config/resolve-queue-config.js';
import { ensureQueueSchema } from './src/database/migration-runner.js';

const config = resolveQueueConfig({
  poolMinSize: 0,
  poolMaxSize: 1,
  ...(process.env.QUEUE_SCHEMA ? { schema: process.env.QUEUE_SCHEMA } : {}),
  ...(process.env.QUEUE_TABLE ? { table: process.env.QUEUE_TABLE } : {}),
});
if (config.connection.kind !== 'owned') throw new Error('unreachable: no dataSource option given');

const connectionOptions = ownedDataSourceOptions(config, config.connection, (error) => {
  console.warn(`Idle database connection lost: ${error.message}`);
});

// The CLI creates its migrations table before the first migration runs, so a schema other than
// public must exist first. A short-lived connection makes it; the CLI opens its own afterwards.
const setup = new DataSource(connectionOptions);
await setup.initialize();
try {
  const queryRunner = setup.createQueryRunner();
  await ensureQueueSchema(queryRunner, config.names);
  await queryRunner.release();
} finally {
  await setup.destroy();
}

export default new DataSource({
  ...connectionOptions,
  schema: config.names.schema,
  migrations: queueMigrations(config.names),
  migrationsTableName: config.names.migrationsTable,
});
