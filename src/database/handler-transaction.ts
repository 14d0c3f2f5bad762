import { type DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { ManagerSender } from './manager-sender.js';
import { type StatementSender } from './statement-sender.js';
import { toQueueDatabaseError, type ErrorContext } from './to-queue-database-error.js';

/**
 * A transaction a transactional processor's handler runs in: one pooled connection of the
 * module's DataSource, from before the handler starts until it commits (with the message's ack)
 * or rolls back. Ended once; later calls do nothing.
 */
export class HandlerTransaction {
  private ended = false;
  /** Statements of the queue in this transaction (the fenced ack). */
  readonly sender: StatementSender;

  private constructor(
    private readonly runner: QueryRunner,
    errorContext: ErrorContext,
  ) {
    this.sender = new ManagerSender(runner.manager, errorContext);
  }

  /** Takes a connection of `dataSource` and begins a transaction on it. */
  static async begin(
    dataSource: DataSource,
    errorContext: ErrorContext,
  ): Promise<HandlerTransaction> {
    const runner = dataSource.createQueryRunner();
    try {
      await runner.connect();
      await runner.startTransaction();
    } catch (error) {
      await release(runner, error);
      throw toQueueDatabaseError('beginTransaction', error, errorContext);
    }
    return new HandlerTransaction(runner, errorContext);
  }

  /** The handler's `message.manager`. */
  get manager(): EntityManager {
    return this.runner.manager;
  }

  /** Commits and gives the connection back; a failed commit closes it (nothing was kept). */
  async commit(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.runner.commitTransaction();
    } catch (error) {
      await release(this.runner, error);
      throw error;
    }
    await this.runner.release();
  }

  /** Rolls back and gives the connection back; a failed rollback closes it instead. */
  async rollback(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    try {
      await this.runner.rollbackTransaction();
    } catch (error) {
      await release(this.runner, error);
      return;
    }
    await this.runner.release();
  }

  /**
   * Closes the connection at once, which rolls the transaction back on the server: for a handler
   * that may still be running (past its timeout, cancelled, or abandoned at shutdown), whose
   * statement in flight a ROLLBACK would have to wait for. Its later statements fail: TypeORM
   * refuses a released query runner.
   */
  discard(): void {
    if (this.ended) return;
    this.ended = true;
    void release(this.runner, new Error('transaction discarded: its handler was abandoned'));
  }
}

/**
 * Gives the runner's connection back to the pool, closed when `error` is given (TypeORM's
 * `releasePostgresConnection(err)`, which its typings keep private).
 */
async function release(runner: QueryRunner, error: unknown): Promise<void> {
  const closing = runner as unknown as {
    releasePostgresConnection?: (err?: Error) => Promise<void>;
  };
  const reason = error instanceof Error ? error : new Error(String(error));
  try {
    if (closing.releasePostgresConnection !== undefined) {
      await closing.releasePostgresConnection(reason);
    } else {
      await runner.release();
    }
  } catch {
    // Released already: nothing is left to give back.
  }
}
