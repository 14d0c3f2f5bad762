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
 * The dead letters of `$1`, by either of its roles (on table alias `m`): those that failed in it
 * (`failed`), those moved from it to a dead-letter queue (`origin_queue`), and, when it is a
 * dead-letter queue, those that arrived in it (`origin_queue` set), whatever their state. The
 * one definition `listFailed` lists and `retryFailed` puts back, so they never disagree.
 */
const DEAD_LETTERS_OF = `((m.queue = $1::text AND (m.state = 'failed' OR m.origin_queue IS NOT NULL)) OR m.origin_queue = $1::text)`;

/** Dead letters of a queue (see `DEAD_LETTERS_OF`), oldest first. */
export function listFailedSql(t: QueueTableNames, queue: string, limit: number): SqlStatement {
  return {
    text: `SELECT ${MESSAGE_COLUMNS} FROM ${t.qualified} AS m
WHERE ${DEAD_LETTERS_OF}
ORDER BY m.seq
LIMIT $2::integer`,
    values: [queue, limit],
  };
}

/**
 * Puts dead letters of `queue` (see `DEAD_LETTERS_OF`) back where they failed, due now with fresh
 * attempts; all of them, or those whose id is in `ids`. One that failed in `queue` itself stays
 * there (and keeps its `origin_queue`, so a dead-letter queue's processor still sees where it
 * came from); one moved from `queue` comes back to it; one that arrived in `queue` as a
 * dead-letter queue goes back to its `origin_queue`. A dead letter a processor holds right now
 * (`leased`) is left alone.
 */
export function retryFailedSql(
  t: QueueTableNames,
  queue: string,
  ids: readonly string[] | undefined,
): SqlStatement {
  const failedHere = `m.queue = $1::text AND m.state = 'failed'`;
  return {
    text: `${lockInIdOrder(
      t.qualified,
      `${DEAD_LETTERS_OF} AND m.state <> 'leased'${ids === undefined ? '' : ' AND m.id = ANY ($3::text[])'}`,
    )}
UPDATE ${t.qualified} AS m
SET queue = CASE WHEN m.queue = $1::text AND m.state <> 'failed' THEN m.origin_queue ELSE $1::text END,
    origin_queue = CASE WHEN ${failedHere} THEN m.origin_queue END,
    state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL
WHERE ${LOCKED_ROWS}
RETURNING ${notify('$2', 'm.queue')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}
