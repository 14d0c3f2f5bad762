import { type DataSource } from 'typeorm';
import { type QueueConfig } from '../config/queue-config.js';
import { resolveQueueConfig } from '../config/resolve-queue-config.js';
import { roleNameViolation } from '../config/role-name.js';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueError } from '../errors/queue.error.js';
import {
  type QueueMigrationOptions,
  type QueueMigrationResult,
  type QueueMigrationStatus,
} from '../interfaces/queue-migration.interface.js';
import { readMigrationStatus, runQueueMigrations } from './migration-runner.js';
import { previewPendingMigrations, type MigrationPreview } from './migration-preview.js';
import { errorContextOf, toQueueDatabaseError } from './to-queue-database-error.js';
import { openOneOffDataSource } from './one-off-data-source.js';
import { grantQueuePrivileges } from './queue-grants.js';

/**
 * Applies the queue table's pending migrations, as `QueueModule` does at boot, and returns which
 * it applied: for a deploy step (a Kubernetes Job, a release hook) that migrates once before the
 * application's pods start with `migrationsRun: false`.
 *
 * The options are the module's connection and table options, validated the same way: a bad one
 * rejects with a {@link QueueOptionsError} naming it before any connection is opened. Then one
 * connection is opened (or `dataSource`'s pool borrowed), the schema created when missing, and the
 * migrations applied in one transaction under the module's advisory lock, lock timeout and
 * retries, so this call, another one and booting replicas migrate the table once between them.
 * A table of the same name that the package did not create is refused, as the module refuses it.
 * The connection is closed before the promise settles, whether the migration succeeded or not;
 * a shared `dataSource` is left open.
 *
 * With `grantTo`, the application role is then granted what it needs (see `queueGrantsSql`).
 *
 * ```ts
 * const { applied } = await migrateQueue({ connectionString: process.env.DATABASE_URL, schema: 'queue' });
 * ```
 *
 * @throws {QueueOptionsError} an option is unusable; nothing was opened.
 * @throws {QueueDatabaseError} the connection or a migration failed (never with the password);
 *   code `42P07` when the table exists but was not created by this package.
 */
export async function migrateQueue(options: QueueMigrationOptions): Promise<QueueMigrationResult> {
  const { config, onRetry, grantTo } = resolveMigrationConfig(options);
  const { names } = config;
  const applied = await withConnection(config, 'migrate', async (dataSource, toError) => {
    const ran = await runQueueMigrations(dataSource, names, {
      lockTimeoutMs: config.migrationLockTimeoutMs,
      ...(onRetry === undefined
        ? {}
        : { onRetry: (error, delayMs) => onRetry(toError(error), delayMs) }),
    });
    if (grantTo !== undefined) await grantQueuePrivileges(dataSource, names, grantTo);
    return ran;
  });
  return Object.freeze({
    schema: names.schema,
    table: names.table,
    applied: Object.freeze(applied),
    ...(grantTo === undefined ? {} : { grantedTo: grantTo }),
  });
}

/**
 * Reads which of the queue table's migrations are applied and which are pending, without
 * changing anything (no schema is created, no lock taken). Same options and errors as
 * {@link migrateQueue}.
 */
export async function queueMigrationStatus(
  options: QueueMigrationOptions,
): Promise<QueueMigrationStatus> {
  const { config } = resolveMigrationConfig(options);
  const { names } = config;
  const { applied, pending, unknown } = await withConnection(
    config,
    'migrationStatus',
    (dataSource) => readMigrationStatus(dataSource, names),
  );
  return Object.freeze({
    schema: names.schema,
    table: names.table,
    applied: Object.freeze(applied),
    pending: Object.freeze(pending),
    unknown: Object.freeze(unknown),
  });
}

/**
 * The statements `migrateQueue` would send now, without changing anything: the pending
 * migrations run in a transaction that is rolled back (see `previewPendingMigrations`). Same
 * options and errors as {@link migrateQueue}.
 */
export async function previewQueueMigrations(
  options: QueueMigrationOptions,
): Promise<MigrationPreview & { readonly schema: string; readonly table: string }> {
  const { config } = resolveMigrationConfig(options);
  const { names } = config;
  const preview = await withConnection(config, 'migrationSql', (dataSource) =>
    previewPendingMigrations(dataSource, names, config.migrationLockTimeoutMs),
  );
  return { schema: names.schema, table: names.table, ...preview };
}

export function resolveMigrationConfig(options: QueueMigrationOptions): {
  config: QueueConfig;
  onRetry: QueueMigrationOptions['onRetry'];
  grantTo: string | undefined;
} {
  if (options === null || typeof options !== 'object') {
    throw new QueueOptionsError('options', 'must be an object');
  }
  const { onRetry, grantTo, ...moduleOptions } = options;
  if (onRetry !== undefined && typeof onRetry !== 'function') {
    throw new QueueOptionsError('onRetry', 'must be a function');
  }
  const refusedRole = grantTo === undefined ? undefined : roleNameViolation(grantTo);
  if (refusedRole !== undefined) throw new QueueOptionsError('grantTo', refusedRole);
  // One connection is all a migration uses. A shared DataSource brings its own pool, and pool
  // options beside it are refused, as the module refuses them.
  const config = resolveQueueConfig(
    moduleOptions.dataSource === undefined
      ? { ...moduleOptions, poolMinSize: 0, poolMaxSize: 1 }
      : moduleOptions,
  );
  return { config, onRetry, grantTo };
}

export type ToError = (error: unknown) => QueueError;

/**
 * Runs `work` on the configured connection: a DataSource opened for it and closed after it, or
 * the shared one, left open. Every failure is typed, and the password scrubbed from it.
 */
export async function withConnection<T>(
  config: QueueConfig,
  operation: string,
  work: (dataSource: DataSource, toError: ToError) => Promise<T>,
): Promise<T> {
  const { connection } = config;
  const context = errorContextOf(config);
  const toError: ToError = (error) => toQueueDatabaseError(operation, error, context);

  if (connection.kind === 'shared') {
    try {
      return await work(connection.dataSource, toError);
    } catch (error) {
      throw toError(error);
    }
  }

  const dataSource = await openOneOffDataSource(config, connection, toError);
  try {
    return await work(dataSource, toError);
  } catch (error) {
    throw toError(error);
  } finally {
    if (dataSource.isInitialized) {
      // Closing can fail only on a socket already dead; what the work gave is what matters.
      await dataSource.destroy().catch(() => undefined);
    }
  }
}
