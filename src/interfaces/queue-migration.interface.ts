import { type QueueError } from '../errors/queue.error.js';
import { type QueueModuleOptions } from './queue-module-options.interface.js';

/**
 * Options of `migrateQueue` and `queueMigrationStatus`: the connection and table options of
 * `QueueModule.forRoot`, with the same names, defaults and validation. The pool options are not
 * among them: these functions open one connection of their own (or borrow `dataSource`'s pool).
 */
export interface QueueMigrationOptions extends Pick<
  QueueModuleOptions,
  | 'connectionString'
  | 'dataSource'
  | 'ssl'
  | 'connectionTimeoutMs'
  | 'statementTimeoutMs'
  | 'applicationName'
  | 'schema'
  | 'table'
  | 'migrationLockTimeoutMs'
> {
  /**
   * Told each time a try gave up waiting `migrationLockTimeoutMs` for a table lock another
   * transaction holds, before the pause (`delayMs`) that precedes the next try.
   */
  readonly onRetry?: (error: QueueError, delayMs: number) => void;
  /**
   * `migrateQueue` only: after migrating, grant this role what the application needs and no
   * more (the statements of `queueGrantsSql`), in one transaction on the same connection, so
   * that an application connecting as it runs without owning the tables. A role name, not
   * `public`; refused with a `QueueOptionsError` before anything is opened.
   */
  readonly grantTo?: string;
}

/** What `migrateQueue` did. */
export interface QueueMigrationResult {
  readonly schema: string;
  readonly table: string;
  /** The migrations this call applied, oldest first; empty when the table was up to date. */
  readonly applied: readonly string[];
  /** The role granted the application's privileges (`grantTo`), when one was given. */
  readonly grantedTo?: string;
}

/** Where a queue table stands, as recorded in `<table>_migrations`. */
export interface QueueMigrationStatus {
  readonly schema: string;
  readonly table: string;
  /** Every migration recorded, in the order they ran. */
  readonly applied: readonly string[];
  /** Migrations of this version of the package not applied yet, in the order they would run. */
  readonly pending: readonly string[];
  /**
   * Recorded migrations this version of the package does not know: a newer release migrated the
   * table. This version may not work with it.
   */
  readonly unknown: readonly string[];
}
