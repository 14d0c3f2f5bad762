import { MESSAGE_COLUMNS, type SqlStatement } from './sql-statement.js';
import { FENCE, type LeaseRef } from './settle.sql.js';
import { type QueueTableNames } from './table-names.js';

/**
 * The columns a message is read back with by id: `MESSAGE_COLUMNS` and what a handler left
 * behind. Kept apart from the lease statement's columns: a worker never needs a result back, and
 * a large one would only weigh on every lease.
 */
export const MESSAGE_DETAIL_COLUMNS = `${MESSAGE_COLUMNS}, result, progress`;

/** What `waitFor` reads of a message to tell whether, and how, it ended. */
const WAIT_COLUMNS = 'id, queue, state, origin_queue, last_error, result';

/** One message by id, whatever its queue, with its result and progress. */
export function getMessageSql(t: QueueTableNames, id: string): SqlStatement {
  return {
    text: `SELECT ${MESSAGE_DETAIL_COLUMNS} FROM ${t.qualified} WHERE id = $1::text`,
    values: [id],
  };
}

/**
 * Marks a message awaited, so that its end is notified on the table's finished channel (see the
 * `awaited_ended` trigger), and returns its state as of now. An UPDATE and not a read: it waits
 * for a concurrent settle of the row and returns the row as that left it, so an end committed
 * after the caller started LISTENing is either returned here or notified (a SELECT's snapshot
 * could miss an end committed meanwhile, and no notification would follow: the row was not
 * awaited yet). Setting only `awaited` fires no trigger. No row: the message does not exist.
 */
export function awaitMessageSql(t: QueueTableNames, id: string): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET awaited = true WHERE id = $1::text RETURNING ${WAIT_COLUMNS}`,
    values: [id],
  };
}

/**
 * The state of awaited messages, by id, after a notification or a reconnect of the LISTEN
 * connection. An id missing from the rows was deleted.
 */
export function waitStatesSql(t: QueueTableNames, ids: readonly string[]): SqlStatement {
  return {
    text: `SELECT ${WAIT_COLUMNS} FROM ${t.qualified} WHERE id = ANY ($1::text[])`,
    values: [ids],
    planEachTime: true,
  };
}

/**
 * Records a running message's progress, fenced by its lease token like a settle: a worker that
 * lost the lease changes nothing. One row at most.
 */
export function progressSql(t: QueueTableNames, lease: LeaseRef, json: string): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET progress = $4::jsonb WHERE ${FENCE}`,
    values: [lease.id, lease.queue, lease.leaseToken, json],
  };
}
