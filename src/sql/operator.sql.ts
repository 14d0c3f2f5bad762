import { MESSAGE_COLUMNS, NOW_SECONDS, notify, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

export function clearQueueSql(
  t: QueueTableNames,
  queue: string,
  state: string | undefined,
): SqlStatement {
  return state === undefined
    ? { text: `DELETE FROM ${t.qualified} WHERE queue = $1::text`, values: [queue] }
    : {
        text: `DELETE FROM ${t.qualified} WHERE queue = $1::text AND state = $2::text`,
        values: [queue, state],
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
    text: `UPDATE ${t.qualified}
SET queue = $1::text, origin_queue = NULL, state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL
WHERE ((queue = $1::text AND state = 'failed') OR (origin_queue = $1::text AND state <> 'leased'))
  ${ids === undefined ? '' : 'AND id = ANY($3::text[])'}
RETURNING ${notify('$2', '$1::text')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}
