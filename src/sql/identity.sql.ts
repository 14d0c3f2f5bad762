import { type SqlStatement } from './sql-statement.js';

/**
 * Which database of which server a connection reaches: the database's name and the server's
 * start time in epoch seconds with microseconds (text, so no precision and no time zone is lost
 * on the way). Two servers never start in the same microsecond, a clone of a server included
 * (it shares `pg_control_system().system_identifier`, which a managed service may also refuse to
 * a plain role); both functions here are open to every role and cannot fail, so the statement is
 * safe to send inside a caller's transaction. A restart changes the time, so a mismatch is
 * checked again before it is believed.
 */
export function databaseIdentitySql(): SqlStatement {
  return {
    text: `SELECT current_database()::text AS database,
  extract(epoch FROM pg_postmaster_start_time())::text AS started`,
    values: [],
  };
}
