import {
  LOCKED_ROWS,
  lockInIdOrder,
  MESSAGE_COLUMNS,
  NOW_SECONDS,
  notify,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** Deletes a queue's messages, or those in one state; rows locked in id order. */
export function clearQueueSql(
  t: QueueTableNames,
  queue: string,
  state: string | undefined,
): SqlStatement {
  const where =
    state === undefined ? 'm.queue = $1::text' : 'm.queue = $1::text AND m.state = $2::text';
  return {
    text: `${lockInIdOrder(t.qualified, where)}
DELETE FROM ${t.qualified} AS m WHERE ${LOCKED_ROWS}`,
    values: state === undefined ? [queue] : [queue, state],
  };
}

export function deleteMessageSql(t: QueueTableNames, id: string): SqlStatement {
  return { text: `DELETE FROM ${t.qualified} WHERE id = $1::text`, values: [id] };
}

/**
 * Dead letters of a queue: messages that failed in it (`failed`), and those moved from it to a
 * dead-letter queue (`origin_queue`), oldest first.
 */
export function listFailedSql(t: QueueTableNames, queue: string, limit: number): SqlStatement {
  return {
    text: `SELECT ${MESSAGE_COLUMNS} FROM ${t.qualified}
WHERE (queue = $1::text AND state = 'failed') OR origin_queue = $1::text
ORDER BY seq
LIMIT $2::integer`,
    values: [queue, limit],
  };
}

/**
 * Puts dead letters of `queue` back into it, due now with fresh attempts; all of them, or those
 * whose id is in `ids`. A moved dead letter that its dead-letter queue's processor holds right
 * now (`leased`) is left alone.
 */
export function retryFailedSql(
  t: QueueTableNames,
  queue: string,
  ids: readonly string[] | undefined,
): SqlStatement {
  return {
    text: `${lockInIdOrder(
      t.qualified,
      `((m.queue = $1::text AND m.state = 'failed') OR (m.origin_queue = $1::text AND m.state <> 'leased'))${ids === undefined ? '' : ' AND m.id = ANY ($3::text[])'}`,
    )}
UPDATE ${t.qualified} AS m
SET queue = $1::text, origin_queue = NULL, state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL
WHERE ${LOCKED_ROWS}
RETURNING ${notify('$2', '$1::text')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}
