import { NOW_SECONDS, notify, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Inserts one batch of imported messages (from the Python backend's SQLite file) in one round
 * trip: the rows travel as one JSON array of `{ i, q, b, a, n, s }` (id, queue, body, available_at,
 * attempts, state), and each body is embedded as JSON itself, so it is parsed once, by the
 * server, and its numbers keep every digit the file had.
 *
 * - An id already in the table is skipped, never overwritten (`ON CONFLICT (id) DO NOTHING`): a
 *   second run imports nothing, and a message the new system already handles stays as it is.
 * - `seq` is drawn in array order, which is the file's rowid order, the order the Python backend
 *   inserted them: FIFO carries over.
 * - `created_at` is not in the file. `available_at` is when the message last became due, the
 *   closest thing the file keeps; capped at now, so a delayed message is not created in the
 *   future. It decides when the cleanup removes an imported `done` message.
 * - One notification per queue that received due `ready` messages, sent when the batch commits:
 *   the statement's select list references `woken`, so it runs once per batch.
 *
 * Answers how many rows were inserted; the rest of the batch was already present.
 */
export function importBatchSql(t: QueueTableNames, rowsJson: string): SqlStatement {
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (id, queue, body, available_at, attempts, state, created_at)
  SELECT r.i, r.q, r.b, r.a, r.n, r.s, least(r.a, ${NOW_SECONDS})
  FROM ROWS FROM (json_to_recordset($1::json) AS (i text, q text, b jsonb, a bigint, n integer, s text))
    WITH ORDINALITY AS r(i, q, b, a, n, s, ord)
  ORDER BY r.ord
  ON CONFLICT (id) DO NOTHING
  RETURNING queue, state, available_at
), woken AS (
  SELECT ${notify('$2', 'w.queue')} FROM (
    SELECT DISTINCT queue FROM inserted WHERE state = 'ready' AND available_at <= ${NOW_SECONDS}
  ) AS w
)
SELECT (SELECT count(*) FROM inserted)::integer AS imported, (SELECT count(*) FROM woken)::integer AS woken`,
    values: [rowsJson, t.channel],
  };
}

/** Whether the queue table exists (a dry run does not create it). */
export function queueTableExistsSql(t: QueueTableNames): SqlStatement {
  return {
    text: `SELECT to_regclass($1::text) IS NOT NULL AS exists`,
    values: [t.qualified],
  };
}

/** How many of these ids the table holds already: what a dry run reports as present. */
export function countPresentIdsSql(t: QueueTableNames, ids: readonly string[]): SqlStatement {
  return {
    text: `SELECT count(*)::integer AS present FROM ${t.qualified} WHERE id = ANY ($1::text[])`,
    values: [ids],
  };
}
