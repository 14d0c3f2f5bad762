/**
 * Applies the queue's migrations and exits: the demo's Kubernetes Job runs this before the
 * Deployment rolls out (`node dist-demo/samples/demo-app/migrate.js`), so that a long migration
 * is not killed by the pods' startup probe and rolled back on every restart. Needs DATABASE_URL.
 *
 * `migrateQueue` takes the module's connection and table options and applies the migrations
 * under the same advisory lock, lock timeout and retries as a booting replica would. (The
 * package's CLI does the same: `npx fetchcraft-queue migrate`.)
 */
import { Logger } from '@nestjs/common';
import { migrateQueue, redactConnectionString } from '@fetchcraft/queue';

const logger = new Logger('Migrate');

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: the migration Job needs the database');
  logger.log(`Applying the queue's migrations on ${redactConnectionString(url)}`);
  const { schema, table, applied } = await migrateQueue({
    connectionString: url,
    onRetry: (error, delayMs) =>
      logger.warn(
        `Migrating waits for a table lock another transaction holds (${error.message}); trying again in ${delayMs} ms`,
      ),
  });
  logger.log(
    applied.length > 0
      ? `Migrations applied to ${schema}.${table}: ${applied.join(', ')}`
      : `Migrations applied: ${schema}.${table} was up to date`,
  );
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
