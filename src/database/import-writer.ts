import { type DataSource } from 'typeorm';
import { type QueueConfig } from '../config/queue-config.js';
import { resolveQueueConfig } from '../config/resolve-queue-config.js';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueError } from '../errors/queue.error.js';
import { type QueueMigrationOptions } from '../interfaces/queue-migration.interface.js';
import { countPresentIdsSql, importBatchSql, queueTableExistsSql } from '../sql/import.sql.js';
import { type SqlStatement } from '../sql/sql-statement.js';
import { openOneOffDataSource } from './one-off-data-source.js';
import { errorContextOf, toQueueDatabaseError } from './to-queue-database-error.js';

/** One message as the import writes it; `bodyJson` is JSON text already checked by the body rules. */
export interface ImportRow {
  readonly id: string;
  readonly queue: string;
  readonly bodyJson: string;
  readonly availableAt: number;
  readonly attempts: number;
  readonly state: 'ready' | 'done';
}

/** Where the import writes: the connection and table options of `migrateQueue`. */
export type ImportWriterOptions = Omit<QueueMigrationOptions, 'onRetry' | 'dataSource'>;

/**
 * The import's one connection to the queue table, opened the way `migrateQueue` opens its own:
 * the module's options validated by `resolveQueueConfig`, TypeORM's pool of one connection built
 * by `ownedDataSourceOptions`, every failure typed and scrubbed of the password. The statements
 * are in `src/sql/import.sql.ts`. Each batch is one statement, so one transaction: a batch is
 * imported whole or not at all, and an interrupted run is finished by running it again.
 */
export class ImportWriter {
  private constructor(
    private readonly dataSource: DataSource,
    private readonly config: QueueConfig,
    private readonly toError: (error: unknown) => QueueError,
  ) {}

  /** @throws {QueueOptionsError} an option is unusable; {QueueDatabaseError} no connection. */
  static async open(options: ImportWriterOptions): Promise<ImportWriter> {
    if (options === null || typeof options !== 'object') {
      throw new QueueOptionsError('options', 'must be an object');
    }
    const config = resolveQueueConfig({ ...options, poolMinSize: 0, poolMaxSize: 1 });
    const { connection } = config;
    if (connection.kind !== 'owned') throw new QueueOptionsError('dataSource', 'is not accepted');
    const context = errorContextOf(config);
    const toError = (error: unknown): QueueError =>
      toQueueDatabaseError('importSqlite', error, context);
    // With several hosts, the host `migrateQueue` chose (read-write, say), not the first listed.
    const dataSource = await openOneOffDataSource(config, connection, toError);
    return new ImportWriter(dataSource, config, toError);
  }

  /** `schema.table`, unquoted. */
  get table(): string {
    return `${this.config.names.schema}.${this.config.names.table}`;
  }

  /** @returns how many rows were inserted; the others' ids were present already. */
  async insert(rows: readonly ImportRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const [row] = await this.query<{ imported: number }>(
      importBatchSql(this.config.names, importRowsJson(rows)),
    );
    return row?.imported ?? 0;
  }

  async tableExists(): Promise<boolean> {
    const [row] = await this.query<{ exists: boolean }>(queueTableExistsSql(this.config.names));
    return row?.exists === true;
  }

  /** How many of these ids the table holds. */
  async countPresent(ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const [row] = await this.query<{ present: number }>(countPresentIdsSql(this.config.names, ids));
    return row?.present ?? 0;
  }

  async close(): Promise<void> {
    // Closing can fail only on a socket already dead; what the import did is what matters.
    if (this.dataSource.isInitialized) await this.dataSource.destroy().catch(() => undefined);
  }

  private async query<Row>(statement: SqlStatement): Promise<Row[]> {
    try {
      return await this.dataSource.query<Row[]>(statement.text, [...statement.values]);
    } catch (error) {
      throw this.toError(error);
    }
  }
}

/**
 * The batch as the statement's JSON array. Each body is spliced in as the JSON text it is (the
 * caller checked it parses and keeps the body rules), so it is neither escaped into a string
 * nor re-serialised, and big numbers keep their digits.
 */
export function importRowsJson(rows: readonly ImportRow[]): string {
  let json = '[';
  for (let index = 0; index < rows.length; index++) {
    const row = rows[index]!;
    json += `${index === 0 ? '' : ','}{"i":${JSON.stringify(row.id)},"q":${JSON.stringify(row.queue)},"b":${row.bodyJson},"a":${row.availableAt},"n":${row.attempts},"s":"${row.state}"}`;
  }
  return `${json}]`;
}
