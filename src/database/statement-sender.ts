import { type SqlStatement } from '../sql/sql-statement.js';

/** What a statement sent through a {@link StatementSender} answers: its rows and their count. */
export interface StatementResult<Row> {
  readonly rows: Row[];
  /** Rows the statement returned or changed; null when the command reports none. */
  readonly rowCount: number | null;
}

/** Sends one statement of an open transaction. */
export type SendStatement = <Row extends object>(
  statement: SqlStatement,
) => Promise<StatementResult<Row>>;

/**
 * Where the store sends its statements: the module's own pool (`QueueConnection`) or a caller's
 * TypeORM `EntityManager` (`ManagerSender`), so that a message can be written in the caller's
 * transaction through the same statements. Failures come back as typed queue errors either way.
 */
export interface StatementSender {
  query<Row extends object>(
    operation: string,
    statement: SqlStatement,
  ): Promise<StatementResult<Row>>;
  /**
   * Sends what `work` sends in one transaction: a new one that commits when `work` resolves and
   * rolls back when it throws, or, for a manager already in a transaction, that one.
   */
  transaction<T>(operation: string, work: (send: SendStatement) => Promise<T>): Promise<T>;
}
