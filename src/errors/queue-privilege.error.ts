import { QueueDatabaseError } from './queue-database.error.js';

/**
 * The role the module connects as may not do what boot asked of it: apply pending migrations
 * (it is an application role, not the table's owner), or read the queue's tables at all (the
 * grants are missing). Code `42501` (`insufficient_privilege`), as the server answered. The
 * message says what to run: the migrations with an owner role (`npx fetchcraft-queue migrate`
 * with the owner's `DATABASE_URL`, or the module option `migrationsConnectionString`), or the
 * grants of `queueGrantsSql`. Never contains a password.
 */
export class QueuePrivilegeError extends QueueDatabaseError {
  constructor(
    operation: string,
    reason: string,
    /** The migrations that are not applied, oldest first; empty when the grants are what is missing. */
    readonly pending: readonly string[],
    /** The role the refused statement ran as (`current_user`), when it could be read. */
    readonly role: string | undefined,
    cause: unknown,
  ) {
    super(operation, reason, { code: '42501', cause });
  }
}
