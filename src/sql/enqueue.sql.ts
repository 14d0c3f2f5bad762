import { NOW_SECONDS, notify, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

export function enqueueSql(
  t: QueueTableNames,
  queue: string,
  bodyJson: string,
  delaySeconds: number,
): SqlStatement {
  // A delayed message wakes nobody: workers would find nothing due. Polling picks it up.
  const wake = delaySeconds === 0;
  return {
    text: `INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
VALUES ($1::text, $2::jsonb, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS})
RETURNING id${wake ? `, ${notify('$4', '$1::text')}` : ''}`,
    values: wake ? [queue, bodyJson, delaySeconds, t.channel] : [queue, bodyJson, delaySeconds],
  };
}

/**
 * One round trip for the whole batch: the bodies travel as one JSON array and are split by the
 * server. `seq` is drawn in array order (the SELECT is sorted before rows reach the INSERT), so
 * aggregating the ids by it gives them back in the caller's order, in one row: the notification
 * in that row's select list is sent once per batch.
 */
export function enqueueManySql(
  t: QueueTableNames,
  queue: string,
  bodiesJsonArray: string,
  delaySeconds: number,
): SqlStatement {
  const wake = delaySeconds === 0;
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
  SELECT $1::text, e.value, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}
  FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, ord)
  ORDER BY e.ord
  RETURNING id, seq
)
SELECT array_agg(id ORDER BY seq) AS ids${wake ? `, ${notify('$4', '$1::text')}` : ''} FROM inserted`,
    values: wake
      ? [queue, bodiesJsonArray, delaySeconds, t.channel]
      : [queue, bodiesJsonArray, delaySeconds],
  };
}
