import { NOW_SECONDS, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

export function enqueueSql(
  t: QueueTableNames,
  queue: string,
  bodyJson: string,
  delaySeconds: number,
): SqlStatement {
  return {
    text: `INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
VALUES ($1::text, $2::jsonb, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS})
RETURNING id`,
    values: [queue, bodyJson, delaySeconds],
  };
}

/**
 * One round trip for the whole batch: the bodies travel as one JSON array and are split by the
 * server. `seq` is drawn in array order (the SELECT is sorted before rows reach the INSERT), so
 * sorting the returned ids by it gives them back in the caller's order.
 */
export function enqueueManySql(
  t: QueueTableNames,
  queue: string,
  bodiesJsonArray: string,
  delaySeconds: number,
): SqlStatement {
  return {
    text: `WITH inserted AS (
  INSERT INTO ${t.qualified} (queue, body, available_at, created_at)
  SELECT $1::text, e.value::jsonb, ${secondsFromNow('$3::integer')}, ${NOW_SECONDS}
  FROM json_array_elements($2::json) WITH ORDINALITY AS e(value, ord)
  ORDER BY e.ord
  RETURNING id, seq
)
SELECT id FROM inserted ORDER BY seq`,
    values: [queue, bodiesJsonArray, delaySeconds],
  };
}
