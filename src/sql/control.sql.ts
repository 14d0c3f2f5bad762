import { NOW_SECONDS, type SqlStatement } from './sql-statement.js';
import { pendingDescendantsSql } from './flow.sql.js';
import { type QueueTableNames } from './table-names.js';

/*
 * Control statements: a queue's pause shared by every replica, and the cancel of one message.
 * Each change that running workers must hear of sends a NOTIFY on the table's control channel
 * with a small JSON payload ({"pause": queue}, {"resume": queue}, {"cancel": id}); Postgres
 * delivers it at commit, so a worker that hears it reads the committed state.
 */

/**
 * Pauses or resumes `queue` for every replica: one row per queue in `<table>_queues`, upserted.
 * Returns one row (the notification sent).
 */
export function setQueuePausedSql(
  t: QueueTableNames,
  queue: string,
  paused: boolean,
): SqlStatement {
  return {
    text: `INSERT INTO ${t.qualifiedQueues} AS q (queue, paused, updated_at)
VALUES ($1::text, $2::boolean, ${NOW_SECONDS})
ON CONFLICT (queue) DO UPDATE SET paused = EXCLUDED.paused, updated_at = EXCLUDED.updated_at
RETURNING pg_notify($3::text, json_build_object(CASE WHEN q.paused THEN 'pause' ELSE 'resume' END, q.queue)::text)`,
    values: [queue, paused, t.controlChannel],
  };
}

/** Whether `queue` is paused for every replica: one row, `paused`, or none for a queue never paused. */
export function queuePausedSql(t: QueueTableNames, queue: string): SqlStatement {
  return {
    text: `SELECT paused FROM ${t.qualifiedQueues} WHERE queue = $1::text`,
    values: [queue],
  };
}

/**
 * Which of `queues` are paused for every replica: a worker process's poll, the fallback for a
 * lost NOTIFY. A primary-key lookup per queue in a table of one row per paused-once queue.
 */
export function pausedQueuesSql(t: QueueTableNames, queues: readonly string[]): SqlStatement {
  return {
    text: `SELECT queue FROM ${t.qualifiedQueues} WHERE queue = ANY ($1::text[]) AND paused`,
    values: [queues],
  };
}

/** The states a cancel ends at once: nothing runs a message in them. */
const WAITING = `('ready', 'waiting_children')`;

/**
 * Cancels message `id` (of `queue` only, when given), in one statement that returns one row,
 * `result`:
 *
 * - `cancelled`: it was `ready` or `waiting_children` (a flow's parent waiting for its children),
 *   and is now `cancelled`; no worker will start it.
 * - `requested`: it is `leased`; its cancel request is recorded (`cancel_requested_at`, kept from
 *   an earlier request) and the workers are notified; the one holding it aborts it and settles it
 *   `cancelled`, or the reaper does once its lease expires.
 * - `finished`: it is `done`, `failed` or `cancelled` already; nothing changes.
 * - `notFound`: there is no such message (in `queue`).
 *
 * A message it cancels or asks to cancel takes its flow's descendants that have not ended with
 * it, in the same statement: waiting ones become `cancelled`, leased ones get a cancel request
 * (see `pendingDescendantsSql`). Only a flow's parents have a `child_failure`, so the walk
 * costs a message outside flows nothing.
 *
 * The row is locked first and its state read from the locked version, so a worker settling it
 * at the same moment is waited for and its result decides.
 */
export function cancelSql(
  t: QueueTableNames,
  id: string,
  queue: string | undefined,
  maxFlowDepth: number,
): SqlStatement {
  return {
    text: `WITH RECURSIVE target AS MATERIALIZED (
  SELECT m.id, m.state, m.queue, m.child_failure FROM ${t.qualified} AS m
  WHERE m.id = $1::text AND ($2::text IS NULL OR m.queue = $2::text)
  FOR UPDATE
), ${pendingDescendantsSql(t, `(SELECT id FROM target WHERE state IN ('ready', 'waiting_children', 'leased') AND child_failure IS NOT NULL)`, '$4::integer')}, changed AS (
  UPDATE ${t.qualified} AS m
  SET state = CASE WHEN m.state IN ${WAITING} THEN 'cancelled' ELSE m.state END,
      cancel_requested_at = COALESCE(m.cancel_requested_at, ${NOW_SECONDS})
  WHERE m.id = ANY (ARRAY(
      SELECT id FROM target WHERE state IN ('ready', 'waiting_children', 'leased')
      UNION ALL SELECT id FROM flow_pending))
    AND m.state IN ('ready', 'waiting_children', 'leased')
  RETURNING m.id, m.state
)
SELECT COALESCE(
  (SELECT CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'requested' END FROM changed WHERE id = $1::text),
  (SELECT 'finished' FROM target),
  'notFound') AS result,
  (SELECT queue FROM target) AS queue,
  (SELECT count(pg_notify($3::text, json_build_object('cancel', id)::text)) FROM changed WHERE state = 'leased') AS notified`,
    values: [id, queue ?? null, t.controlChannel, maxFlowDepth],
  };
}
