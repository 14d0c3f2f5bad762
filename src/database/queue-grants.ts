import { type DataSource } from 'typeorm';
import { quoteRoleName, roleNameViolation } from '../config/role-name.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { queueGrantsStatements } from '../sql/grants.sql.js';
import { type QueueTableNames } from '../sql/table-names.js';

/**
 * The GRANT statements that let `role` run the application on a migrated queue table without
 * owning it: `USAGE` on the schema, the row privileges the package's statements use on the queue
 * table, its archive, `<table>_queues` and `<table>_schedules`, `SELECT` on `<table>_migrations`,
 * and `USAGE` on the sequence enqueue draws from. Nothing that alters the schema.
 *
 * Run them as the tables' owner, after each migration (a later release may add a table; GRANT
 * is idempotent), or let `npx fetchcraft-queue migrate --grant-to <role>` run them. Pure: the
 * names were validated by `queueTableNames`, the role is validated and quoted here.
 *
 * ```ts
 * const sql = queueGrantsSql(queueTableNames('public', 'messages'), 'queue_app').join(';\n');
 * ```
 *
 * @throws {QueueValidationError} `role` is not a usable role name (`public`, a `pg_` role, a
 *   name with quotes or spaces).
 */
export function queueGrantsSql(names: QueueTableNames, role: string): string[] {
  const violation = roleNameViolation(role);
  if (violation !== undefined) throw new QueueValidationError('role', violation);
  return queueGrantsStatements(names, quoteRoleName(role)).map((statement) => statement.text);
}

/**
 * Runs the grants of {@link queueGrantsSql} for `role`, all or none, on `dataSource` (a role
 * that owns the tables). `role` was validated, or read from the server (`current_user`).
 */
export async function grantQueuePrivileges(
  dataSource: DataSource,
  names: QueueTableNames,
  role: string,
): Promise<void> {
  await dataSource.transaction(async (manager) => {
    for (const statement of queueGrantsStatements(names, quoteRoleName(role))) {
      await manager.query(statement.text, [...statement.values]);
    }
  });
}
