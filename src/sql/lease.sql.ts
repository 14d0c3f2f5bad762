import {
  MESSAGE_COLUMNS,
  NOW_SECONDS,
  secondsFromNow,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/**
 * Claims up to `limit` due messages of one queue in one statement.
 *
 * The candidate rows are picked in a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED: the planner may
 * not fold it into the UPDATE as a semi-join, where it could be re-executed and lock more rows
 * than LIMIT allows under concurrency. SKIP LOCKED lets concurrent leasers take disjoint rows
 * without waiting on each other. Order is due time, then enqueue order (`seq`).
 *
 * The UPDATE finds the locked rows by their `ctid`s, collected into one array: a TID scan, whatever
 * the table's size. Joining the CTE on `id` instead let the planner pick a hash join over a
 * sequential scan of the whole table (measured: every lease read all 50,000 rows of a backlog).
 * The ctids are stable here because this statement holds the row locks.
 *
 * Every lease gets a fresh random `lease_token`; ack and nack must present it, so a worker whose
 * lease expired and was taken by another cannot settle the other worker's message.
 *
 * The lease also records the leaser's `maxAttempts` and `deadLetterQueue` (NULL when it has
 * none), so whichever replica reaps an expired last attempt dead-letters it the same way.
 */
export function leaseSql(
  t: QueueTableNames,
  queue: string,
  limit: number,
  leaseSeconds: number,
  policy: { readonly maxAttempts?: number; readonly deadLetterQueue?: string } = {},
): SqlStatement {
  return {
    text: `WITH next AS MATERIALIZED (
  SELECT ctid FROM ${t.qualified}
  WHERE queue = $1::text AND state = 'ready' AND available_at <= ${NOW_SECONDS}
  ORDER BY available_at, seq
  LIMIT $2::integer
  FOR UPDATE SKIP LOCKED
), leased AS (
  UPDATE ${t.qualified} AS m
  SET state = 'leased',
      attempts = m.attempts + 1,
      lease_until = ${secondsFromNow('$3::integer')},
      lease_token = gen_random_uuid(),
      max_attempts = $4::integer,
      dead_letter_queue = $5::text
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM next))
  RETURNING m.*
)
SELECT ${MESSAGE_COLUMNS} FROM leased ORDER BY available_at, seq`,
    values: [
      queue,
      limit,
      leaseSeconds,
      policy.maxAttempts ?? null,
      policy.deadLetterQueue ?? null,
    ],
  };
}
