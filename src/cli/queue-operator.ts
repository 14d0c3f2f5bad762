import { type DataSource } from 'typeorm';
import { type QueueConfig } from '../config/queue-config.js';
import { resolveQueueConfig } from '../config/resolve-queue-config.js';
import { openOneOffDataSource } from '../database/one-off-data-source.js';
import { QueueConnection } from '../database/queue-connection.js';
import { errorContextOf, toQueueDatabaseError } from '../database/to-queue-database-error.js';
import { QueueEvents } from '../events/queue-events.js';
import { QueueService } from '../queue.service.js';
import { MessageStore } from '../store/message-store.js';
import { ResultWaiters } from '../workers/result-waiters.js';
import { type CliTarget } from './cli-args.js';
import { CLI_APPLICATION_NAME } from './cli-command.js';

/**
 * What the operator commands work with: the module's own `QueueService` (its argument rules and
 * semantics: `retryFailed`, `cancel`, …) and `MessageStore` (the one door to the table), wired
 * by hand on one connection, without Nest.
 *
 * Not a Nest application context: booting `QueueModule` would run the migrations, start the
 * reaper, the cleanup, the scheduler and the workers' LISTEN connection, and reconcile the
 * declared schedules of an application that is not there; turning each off is a list of options
 * that a new background role would silently lengthen. Here nothing runs but the statement asked
 * for: the connection is opened as `migrateQueue` opens its own (one connection, the host a
 * multi-host URL's module would use, nothing logged), and `QueueConnection` borrows it as it
 * borrows an application's shared DataSource, so it neither migrates nor logs.
 */
export class QueueOperator {
  private constructor(
    private readonly dataSource: DataSource,
    readonly config: QueueConfig,
    readonly queue: QueueService,
    readonly store: MessageStore,
  ) {}

  /**
   * Opens the one connection. @throws {QueueOptionsError} a bad `--schema` or `--table`, before
   * any connection; {QueueDatabaseError} the database cannot be reached (no password).
   */
  static async open(target: CliTarget): Promise<QueueOperator> {
    const owned = resolveQueueConfig({
      ...target,
      applicationName: CLI_APPLICATION_NAME,
      poolMinSize: 0,
      poolMaxSize: 1,
      migrationsRun: false,
      // No LISTEN connection: `waitFor`, the only user of one, is not an operator command.
      workers: false,
      listen: false,
    });
    const { connection } = owned;
    if (connection.kind !== 'owned') throw new Error('unreachable: the CLI passes a URL');
    const context = errorContextOf(owned);
    const dataSource = await openOneOffDataSource(owned, connection, (error) =>
      toQueueDatabaseError('connect', error, context),
    );
    const config: QueueConfig = Object.freeze({
      ...owned,
      connection: Object.freeze({ kind: 'shared' as const, dataSource }),
    });
    const queueConnection = new QueueConnection(config);
    await queueConnection.start();
    const store = new MessageStore(queueConnection, config);
    const queue = new QueueService(
      store,
      config,
      new QueueEvents(),
      new ResultWaiters(store, queueConnection, config),
    );
    return new QueueOperator(dataSource, config, queue, store);
  }

  /** `schema.table`, unquoted. */
  get table(): string {
    return `${this.config.names.schema}.${this.config.names.table}`;
  }

  async close(): Promise<void> {
    // Closing can fail only on a socket already dead; what the command did is what matters.
    await this.dataSource.destroy().catch(() => undefined);
  }
}
