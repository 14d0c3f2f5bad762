/**
 * Applies the queue's migrations and exits: the demo's Kubernetes Job runs this before the
 * Deployment rolls out (`node dist-demo/samples/demo-app/migrate.js`), so that a long migration
 * is not killed by the pods' startup probe and rolled back on every restart. Needs DATABASE_URL.
 *
 * It boots the queue module without workers: the module applies its migrations at boot under
 * the same advisory lock, lock timeout and retries as any replica would.
 */
import 'reflect-metadata';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { QueueModule, redactConnectionString } from '@fetchcraft/queue';

const logger = new Logger('Migrate');

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: the migration Job needs the database');
  @Module({
    imports: [
      QueueModule.forRoot({
        connectionString: url,
        poolMinSize: 0,
        poolMaxSize: 1,
        workers: false,
      }),
    ],
  })
  class MigrateModule {}
  logger.log(`Applying the queue's migrations on ${redactConnectionString(url)}`);
  const context = await NestFactory.createApplicationContext(MigrateModule, {
    logger: ['log', 'warn', 'error'],
  });
  await context.close();
  logger.log('Migrations applied');
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
