import { type EntityManager, type QueryRunner } from 'typeorm';
import { type SqlStatement } from '../sql/sql-statement.js';
import {
  type SendStatement,
  type StatementResult,
  type StatementSender,
} from './statement-sender.js';
import { toQueueDatabaseError, type ErrorContext } from './to-queue-database-error.js';

/** The structured answer of TypeORM's `QueryRunner.query(text, values, true)`. */
interface StructuredResult {
  readonly records?: unknown[];
  readonly affected?: number | null;
}

/**
 * Sends the store's statements on a caller's TypeORM `EntityManager`: on its query runner, so
 * inside its transaction when it has one (the statements then commit or roll back with the
 * caller's work, and a NOTIFY they raise is delivered at its commit). A manager without a query
 * runner of its own (`dataSource.manager`) sends each statement alone on a connection of its
 * DataSource, as TypeORM itself does.
 *
 * Statements go through `QueryRunner.query`, so the caller's TypeORM logging and subscribers see
 * them; they are not named prepared statements (the connection is the caller's).
 */
export class ManagerSender implements StatementSender {
  constructor(
    private readonly manager: EntityManager,
    private readonly errorContext: ErrorContext,
  ) {}

  async query<Row extends object>(
    operation: string,
    statement: SqlStatement,
  ): Promise<StatementResult<Row>> {
    const runner = this.manager.queryRunner;
    if (runner !== undefined && !runner.isReleased) {
      return this.sendOn<Row>(runner, operation, statement);
    }
    const own = this.manager.connection.createQueryRunner();
    try {
      return await this.sendOn<Row>(own, operation, statement);
    } finally {
      await own.release();
    }
  }

  async transaction<T>(operation: string, work: (send: SendStatement) => Promise<T>): Promise<T> {
    const runner = this.manager.queryRunner;
    if (runner !== undefined && !runner.isReleased && runner.isTransactionActive) {
      return work((statement) => this.sendOn(runner, operation, statement));
    }
    try {
      return await this.manager.transaction((inner) =>
        work((statement) => this.sendOn(inner.queryRunner!, operation, statement)),
      );
    } catch (error) {
      throw toQueueDatabaseError(operation, error, this.errorContext);
    }
  }

  private async sendOn<Row extends object>(
    runner: QueryRunner,
    operation: string,
    statement: SqlStatement,
  ): Promise<StatementResult<Row>> {
    try {
      const result = (await runner.query(
        statement.text,
        statement.values as unknown[],
        true,
      )) as StructuredResult;
      return { rows: (result.records ?? []) as Row[], rowCount: result.affected ?? null };
    } catch (error) {
      throw toQueueDatabaseError(operation, error, this.errorContext);
    }
  }
}
