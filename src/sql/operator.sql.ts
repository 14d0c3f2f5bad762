import {
  LOCKED_ROWS,
  lockInIdOrder,
  MESSAGE_COLUMNS,
  NOW_SECONDS,
  notify,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';
import { keyHolderSql } from './unique.sql.js';

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
 * Where a dead letter (table alias `a`) goes when `retryFailedSql` puts it back for `$1`: its
 * `queue` and `origin_queue` afterwards.
 */
function retriedQueue(a: string): string {
  return `CASE WHEN ${a}.queue = $1::text AND ${a}.state <> 'failed' THEN ${a}.origin_queue ELSE $1::text END`;
}
function retriedOrigin(a: string): string {
  return `CASE WHEN ${a}.queue = $1::text AND ${a}.state = 'failed' THEN ${a}.origin_queue END`;
}

/**
 * Whether the dead letter `m` would take a unique key that is not free once put back (it then
 * holds its key only if it has one and no `origin_queue` afterwards): another row of its
 * destination holds it now, by the index's own predicate (a new message enqueued with the key
 * while this one was dead); or another dead letter of the same statement, enqueued before it
 * (a smaller `seq`), would take it first (two `'active'` dead letters may share a key, since
 * neither held it once failed). Without this, the UPDATE failed whole with a unique violation
 * (23505).
 */
function keyTaken(t: QueueTableNames): string {
  const destination = retriedQueue('m');
  const sameKey = `o.unique_key = m.unique_key AND o.unique_window IS NOT DISTINCT FROM m.unique_window AND (o.unique_scope = 'window') = (m.unique_scope = 'window')`;
  return `(m.unique_key IS NOT NULL AND ${retriedOrigin('m')} IS NULL AND (
  (m.unique_scope <> 'window' AND EXISTS (${keyHolderSql(t, 'active', destination, 'm.unique_key', 'NULL')} AND h.id <> m.id))
  OR (m.unique_scope = 'window' AND EXISTS (${keyHolderSql(t, 'window', destination, 'm.unique_key', 'm.unique_window')} AND h.id <> m.id))
  OR (NOT (m.queue = ${destination} AND ${heldNow('m')}) AND EXISTS (
    SELECT 1 FROM ${t.qualified} AS o
    WHERE o.id = ANY (ARRAY(SELECT id FROM target)) AND o.seq < m.seq AND ${sameKey}
      AND ${retriedOrigin('o')} IS NULL AND ${retriedQueue('o')} = ${destination}))))`;
}

/** Whether the row `a` holds its key now, as the unique indexes see it. */
function heldNow(a: string): string {
  return `${a}.origin_queue IS NULL AND (${a}.unique_scope = 'window' OR ${a}.state IN ('ready', 'leased') OR (${a}.state = 'failed' AND ${a}.unique_scope = 'active_or_failed'))`;
}

/**
 * Puts dead letters of `queue` (see `DEAD_LETTERS_OF`) back where they failed, due now with fresh
 * attempts; all of them, or those whose id is in `ids`. One that failed in `queue` itself stays
 * there (and keeps its `origin_queue`, so a dead-letter queue's processor still sees where it
 * came from); one moved from `queue` comes back to it; one that arrived in `queue` as a
 * dead-letter queue goes back to its `origin_queue`. A dead letter a processor holds right now
 * (`leased`) is left alone, and so is one whose unique key is taken (see `keyTaken`).
 *
 * A message that takes the key between this statement's snapshot and its UPDATE still fails it
 * with 23505 on the unique index; the store sends it again, and the new snapshot sees the holder.
 */
export function retryFailedSql(
  t: QueueTableNames,
  queue: string,
  ids: readonly string[] | undefined,
): SqlStatement {
  return {
    text: `${lockInIdOrder(
      t.qualified,
      `${DEAD_LETTERS_OF} AND m.state <> 'leased'${ids === undefined ? '' : ' AND m.id = ANY ($3::text[])'}`,
    )}
UPDATE ${t.qualified} AS m
SET queue = ${retriedQueue('m')},
    origin_queue = ${retriedOrigin('m')},
    state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL
WHERE ${LOCKED_ROWS} AND NOT ${keyTaken(t)}
RETURNING ${notify('$2', 'm.queue')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}
