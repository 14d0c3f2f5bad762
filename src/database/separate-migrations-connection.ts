import { type DataSource } from 'typeorm';
import { type OwnedConnection, type QueueConfig } from '../config/queue-config.js';
import { openOneOffDataSource } from './one-off-data-source.js';
import { scrubPassword, toQueueDatabaseError } from './to-queue-database-error.js';

/**
 * Runs the boot's migrations over `migrationsConnectionString`: one connection of the owner's
 * role, opened for them and closed after them, whether they succeeded or not, so no connection
 * of a role that may alter the schema stays open in the application. Failures are typed (a
 * refused connection says where it went), and this URL's password is scrubbed from them and
 * from what `work` reports through `scrub`.
 */
export async function onMigrationsConnection<T>(
  config: QueueConfig,
  connection: OwnedConnection,
  work: (dataSource: DataSource, scrub: (text: string) => string) => Promise<T>,
): Promise<T> {
  const { password } = connection.config;
  const context = {
    connectionTimeoutMs: config.connectionTimeoutMs,
    ...(password === undefined ? {} : { password }),
  };
  const toError = (error: unknown) => toQueueDatabaseError('migrate', error, context);
  const dataSource = await openOneOffDataSource(config, connection, toError);
  try {
    return await work(dataSource, (text) => scrubPassword(text, password));
  } catch (error) {
    throw toError(error);
  } finally {
    // Closing can fail only on a socket already dead; what the migrations gave is what matters.
    await dataSource.destroy().catch(() => undefined);
  }
}
