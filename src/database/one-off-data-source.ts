import { DataSource } from 'typeorm';
import { ownedDataSourceOptions } from '../config/data-source-options.js';
import { type OwnedConnection, type QueueConfig } from '../config/queue-config.js';
import { type QueueError } from '../errors/queue.error.js';
import { hostSelectingClient, hostSelectorFor } from './host-selecting-client.js';
import { couldNotConnect, scrubPassword } from './to-queue-database-error.js';

/** A one-off run says where it connected through its result or its error, not through log lines. */
const SILENT = { log: () => undefined, warn: () => undefined };

/**
 * Opens the DataSource of a one-off run (`migrateQueue`, the import, the boot's migrations over
 * `migrationsConnectionString`): the module's connection
 * settings, and with several hosts the host the module's own connections would go to
 * (read-write, say), so a run never migrates one host and writes another. A connection that dies
 * while idle is of no concern to a run this short (the next statement on it fails, and that is
 * reported); without a handler the pool's error would crash the process.
 *
 * @throws what `toError` makes of the failure, saying where it tried (no password).
 */
export async function openOneOffDataSource(
  config: QueueConfig,
  connection: OwnedConnection,
  toError: (error: unknown) => QueueError,
): Promise<DataSource> {
  const { password } = connection.config;
  const selector = hostSelectorFor(config, connection, SILENT, (error) =>
    scrubPassword(error instanceof Error ? error.message : String(error), password),
  );
  const dataSource = new DataSource(
    ownedDataSourceOptions(
      config,
      connection,
      () => undefined,
      selector === undefined ? undefined : hostSelectingClient(selector),
    ),
  );
  try {
    await dataSource.initialize();
  } catch (error) {
    throw couldNotConnect(toError(error), error, connection.redacted);
  }
  return dataSource;
}
