import { Module } from '@nestjs/common';
import { QueueModule, type QueueModuleOptions } from '@fetchcraft/queue';

/**
 * Statements through PgBouncer in transaction mode, LISTEN straight to the primary:
 * DATABASE_URL=postgres://app:…@pgbouncer:6432/app
 * DIRECT_DATABASE_URL=postgres://app:…@db-primary:5432/app
 */
export function queueOptions(env: NodeJS.ProcessEnv = process.env): QueueModuleOptions {
  return {
    connectionString: env.DATABASE_URL,
    transactionPooling: true,
    listenConnectionString: env.DIRECT_DATABASE_URL,
  };
}

@Module({ imports: [QueueModule.forRoot(queueOptions())] })
export class BehindPgBouncerModule {}
