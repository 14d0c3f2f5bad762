import { Module } from '@nestjs/common';
import { QueueModule, queueGrantsSql, queueTableNames } from '@fetchcraft/queue';

/**
 * The application connects as `queue_app`, which reads and writes rows and nothing more. The
 * migrations at boot run as `queue_owner`, on one connection opened for them and closed after
 * them; the owner then grants `queue_app` what the queue needs.
 */
@Module({
  imports: [
    QueueModule.forRoot({
      connectionString: process.env.DATABASE_URL, // postgres://queue_app:…@db:5432/app
      migrationsConnectionString: process.env.QUEUE_OWNER_URL, // postgres://queue_owner:…@db:5432/app
      schema: 'queue',
    }),
  ],
})
export class AppModule {}

/**
 * Or migrate in a deploy step (`npx fetchcraft-queue migrate --grant-to queue_app` with the
 * owner's DATABASE_URL) and boot the application without QUEUE_OWNER_URL. A DBA who runs the
 * grants by hand gets them here, for the schema and table the module uses.
 */
export function grantsFor(role: string): string {
  return `${queueGrantsSql(queueTableNames('queue', 'messages'), role).join(';\n')};`;
}
