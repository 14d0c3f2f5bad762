import { type DataSource } from 'typeorm';
import { QueuePrivilegeError } from '../errors/queue-privilege.error.js';
import { type QueueTableNames } from '../sql/table-names.js';

/** `insufficient_privilege`: the role may not do what the statement asked. */
const INSUFFICIENT_PRIVILEGE = '42501';

const RUN_MIGRATIONS_AS_OWNER =
  "run the migrations with an owner role: `npx fetchcraft-queue migrate` with the owner's DATABASE_URL, or the module option migrationsConnectionString";

/**
 * What a refused statement of the boot's migration step means for whoever reads the boot log: an
 * application role met pending migrations it may not apply (`pending` given), or could not even
 * read `<table>_migrations` (`pending` undefined: the grants are missing, or nothing was ever
 * migrated). Undefined for any other failure, which the caller types as before.
 *
 * The role is read with one more statement, best effort: the error is worth more than its name.
 */
export async function privilegeFailure(
  dataSource: DataSource,
  names: QueueTableNames,
  error: unknown,
  pending: readonly string[] | undefined,
): Promise<QueuePrivilegeError | undefined> {
  if ((error as { code?: unknown } | null)?.code !== INSUFFICIENT_PRIVILEGE) return undefined;
  const message = (error as { message?: unknown }).message;
  const refused = typeof message === 'string' ? message : String(error);
  const role = await currentRole(dataSource);
  const who = role === undefined ? 'the role connected' : `the role "${role}"`;
  const table = `${names.schema}.${names.table}`;
  const reason =
    pending === undefined
      ? `${who} may not read ${names.schema}.${names.migrationsTable} (${refused}): if ${table} was never migrated, ${RUN_MIGRATIONS_AS_OWNER}; else grant ${role ?? 'it'} the privileges queueGrantsSql lists (or run migrate --grant-to ${role ?? '<role>'})`
      : `${table} has ${pending.length} pending migration${pending.length === 1 ? '' : 's'} (${pending.join(', ')}) and ${who} may not apply them (${refused}): ${RUN_MIGRATIONS_AS_OWNER}, then start again`;
  return new QueuePrivilegeError('migrate', reason, pending ?? [], role, error);
}

async function currentRole(dataSource: DataSource): Promise<string | undefined> {
  try {
    const [row] = await dataSource.query<Array<{ role: string }>>('SELECT current_user AS role');
    return row?.role;
  } catch {
    return undefined;
  }
}
