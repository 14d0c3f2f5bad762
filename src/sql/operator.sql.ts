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
 * Which of the locked dead letters cannot take their unique key back (`shadowed`), and so which
 * may be put back (`retried`, the others, matched by id as `LOCKED_ROWS` does): CTEs to follow
 * `lockInIdOrder`'s. A dead letter holds its key once put back if it has one and no
 * `origin_queue` afterwards; of those sharing a key and destination, one goes first: the one
 * holding the key now (an `'activeOrFailed'` or window dead letter in place), else the one
 * enqueued first (the smallest `seq`); the others stay dead letters (two `'active'` dead
 * letters may share a key, since neither held it once failed). One window function over the
 * locked rows, and a set difference, not a lookup or an array test per row, which were
 * quadratic in the batch.
 */
function shadowedSql(t: QueueTableNames): string {
  const destination = retriedQueue('m');
  return `, shadowed AS MATERIALIZED (
  SELECT s.id FROM (
    SELECT m.id, row_number() OVER (
      PARTITION BY ${destination}, m.unique_key, m.unique_scope = 'window', m.unique_window
      ORDER BY (m.queue = ${destination} AND ${heldNow('m')}) DESC, m.seq
    ) AS nth
    FROM ${t.qualified} AS m
    WHERE ${LOCKED_ROWS} AND m.unique_key IS NOT NULL AND ${retriedOrigin('m')} IS NULL
  ) AS s
  WHERE s.nth > 1
), retried AS MATERIALIZED (
  SELECT id FROM target EXCEPT SELECT id FROM shadowed
)`;
}

/**
 * Whether the dead letter `m` would take a unique key that is not free once put back: another
 * row holds it in its destination now, by the index's own predicate (a new message enqueued
 * with the key while this one was dead). With `shadowed`, this spares the UPDATE a unique
 * violation (23505) that failed it whole.
 */
function keyTaken(t: QueueTableNames): string {
  const destination = retriedQueue('m');
  return `(m.unique_key IS NOT NULL AND ${retriedOrigin('m')} IS NULL AND (
  (m.unique_scope <> 'window' AND EXISTS (${keyHolderSql(t, 'active', destination, 'm.unique_key', 'NULL')} AND h.id <> m.id))
  OR (m.unique_scope = 'window' AND EXISTS (${keyHolderSql(t, 'window', destination, 'm.unique_key', 'm.unique_window')} AND h.id <> m.id))))`;
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
    )}${shadowedSql(t)}
UPDATE ${t.qualified} AS m
SET queue = ${retriedQueue('m')},
    origin_queue = ${retriedOrigin('m')},
    state = 'ready', attempts = 0,
    available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL,
    -- Retried on purpose: a cancel requested before (a dead letter cancelled in its dead-letter
    -- queue) must not cancel the new run.
    cancel_requested_at = NULL
WHERE m.id = ANY (ARRAY(SELECT id FROM retried)) AND NOT ${keyTaken(t)}
RETURNING ${notify('$2', 'm.queue')}`,
    values: ids === undefined ? [queue, t.channel] : [queue, t.channel, ids],
  };
}

/** Where one batch of `retryFailedBatchSql` starts: past a cursor, or at given ids. */
export type RetryBatchScope =
  { readonly after: string | null; readonly limit: number } | { readonly ids: readonly string[] };

/**
 * One batch of `retryFailedSql` for a long run (`retryFailedInBatches`): the same dead letters,
 * put back the same way, but only up to `limit` of them in id order past `after` (or those in
 * `ids`), and never waiting for a lock: a row locked elsewhere is skipped (`FOR UPDATE SKIP
 * LOCKED`), so the statement holds its locks for one batch and blocks nobody. A single row of
 * `seen` (the candidates read), `retried`, `last` (the cursor of the next batch) and `skipped`
 * (candidates it could not lock, for the caller to try once more at the end).
 *
 * Walking by id, not again from the start, matters: a dead letter put back in its own queue
 * keeps its `origin_queue` and would match again, and one whose key is taken stays a dead
 * letter; both would be found by every batch.
 */
export function retryFailedBatchSql(
  t: QueueTableNames,
  queue: string,
  scope: RetryBatchScope,
): SqlStatement {
  const dead = `${DEAD_LETTERS_OF} AND m.state <> 'leased'`;
  const candidates =
    'ids' in scope
      ? `SELECT m.id FROM ${t.qualified} AS m WHERE m.id = ANY ($3::text[]) AND ${dead}`
      : `SELECT m.id FROM ${t.qualified} AS m
  WHERE ${dead}${scope.after === null ? '' : ' AND m.id > $4::text'}
  ORDER BY m.id LIMIT $3::integer`;
  const values =
    'ids' in scope
      ? [queue, t.channel, scope.ids]
      : scope.after === null
        ? [queue, t.channel, scope.limit]
        : [queue, t.channel, scope.limit, scope.after];
  return {
    text: `WITH candidates AS MATERIALIZED (
  ${candidates}
), target AS MATERIALIZED (
  SELECT m.id FROM ${t.qualified} AS m
  WHERE m.id = ANY (ARRAY(SELECT id FROM candidates)) AND ${dead}
  ORDER BY m.id FOR UPDATE SKIP LOCKED
)${shadowedSql(t)}, put_back AS (
  UPDATE ${t.qualified} AS m
  SET queue = ${retriedQueue('m')},
      origin_queue = ${retriedOrigin('m')},
      state = 'ready', attempts = 0,
      available_at = ${NOW_SECONDS}, lease_until = NULL, lease_token = NULL,
      cancel_requested_at = NULL
  WHERE m.id = ANY (ARRAY(SELECT id FROM retried)) AND NOT ${keyTaken(t)}
  RETURNING ${notify('$2', 'm.queue')}
)
SELECT (SELECT count(*) FROM candidates)::integer AS seen,
  (SELECT count(*) FROM put_back)::integer AS retried,
  (SELECT max(id) FROM candidates) AS last,
  ARRAY(SELECT id FROM candidates EXCEPT SELECT id FROM target) AS skipped`,
    values,
    planEachTime: true,
  };
}
