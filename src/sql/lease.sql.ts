import {
  MESSAGE_COLUMNS,
  NOW_SECONDS,
  secondsFromNow,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** What a lease records for whichever replica reaps it (see `leaseSql`). */
export interface LeaseRecordPolicy {
  readonly maxAttempts?: number;
  readonly deadLetterQueue?: string;
}

/** A place in a queue's lease order: due time (epoch seconds) and `seq`, as bigint strings. */
export interface LeasePosition {
  readonly availableAt: string;
  readonly seq: string;
}

/**
 * Claims up to `limit` due messages of one queue in one statement.
 *
 * The candidate rows are picked in a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED: the planner may
 * not fold it into the UPDATE as a semi-join, where it could be re-executed and lock more rows
 * than LIMIT allows under concurrency. SKIP LOCKED lets concurrent leasers take disjoint rows
 * without waiting on each other. Order is priority (higher first), then due time, then enqueue
 * order (`seq`); see `candidatesInOrder`. A queue paused for every replica leases nothing.
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
 *
 * A batch is bounded in bytes as well as in rows: candidates are taken, oldest first, while the
 * stored size of the bodies before them stays under `maxBytes`, so a batch holds at most
 * `maxBytes` plus one body, and always at least one message. Candidates past the budget are
 * locked by the CTE but not updated; their locks end with the statement. Each row comes back
 * with `body_bytes`, its body's stored size, for the caller's own budget, and its `seq`.
 *
 * `after`, when given, starts the scan past a position (due time, then `seq`) that an earlier
 * lease of the same caller reached: the index entries before it belong to messages already
 * leased, and while something pins the xmin horizon they can be neither removed nor marked dead,
 * so a scan from the head walks all of them, each time. A message that becomes due before that
 * position (given back, reaped, committed late) is not seen by such a scan: the caller must scan
 * from the head regularly too (the fetch loop does at least once a second).
 */
export function leaseSql(
  t: QueueTableNames,
  queue: string,
  limit: number,
  leaseSeconds: number,
  policy: LeaseRecordPolicy,
  maxBytes: number,
  after?: LeasePosition,
): SqlStatement {
  return {
    ...leaseStatement(t, '$2::integer', '', [queue, limit, leaseSeconds, policy, maxBytes], after),
    planEachTime: true,
  };
}

/**
 * The lease a worker sends when its previous lease came back short (its queue held fewer due
 * messages than it asked for), usually on the NOTIFY of a new message: `leaseSql` with the
 * candidate scans limited to `scanLimit`, a constant written into the text (the worker's
 * concurrency), and `limit` (at most `scanLimit`) applied to the rows it takes.
 *
 * It may run as a prepared statement with a generic plan, so it is planned once per connection
 * instead of at each run: planning `leaseSql` took 0.55 ms of an idle worker's 1.4 ms lease
 * (PostgreSQL 15), all of it added to the wake-up latency. `leaseSql` is planned for its values
 * every time, because its generic plan, not knowing the limit, read the whole backlog; with the
 * limit a constant, the generic plan is the custom one: each branch an ordered index scan that
 * stops after `scanLimit` rows. Candidates past `limit` are locked by the scan and not updated,
 * as those past the byte budget are.
 */
export function idleLeaseSql(
  t: QueueTableNames,
  queue: string,
  limit: number,
  scanLimit: number,
  leaseSeconds: number,
  policy: LeaseRecordPolicy,
  maxBytes: number,
  after?: LeasePosition,
): SqlStatement {
  if (!Number.isSafeInteger(scanLimit) || scanLimit < 1 || limit > scanLimit) {
    throw new RangeError(`idleLeaseSql: scanLimit ${scanLimit} for limit ${limit}`);
  }
  return leaseStatement(
    t,
    String(scanLimit),
    '\n  ORDER BY before\n  LIMIT $2::integer',
    [queue, limit, leaseSeconds, policy, maxBytes],
    after,
  );
}

/**
 * `take` cuts the candidates down to the limit after the byte budget, when the scans alone do
 * not (`before`, the bytes ahead of a row in lease order, grows with each row: every stored body
 * takes some bytes).
 */
function leaseStatement(
  t: QueueTableNames,
  scanLimit: string,
  take: string,
  [queue, limit, leaseSeconds, policy, maxBytes]: [
    string,
    number,
    number,
    LeaseRecordPolicy,
    number,
  ],
  after: LeasePosition | undefined,
): SqlStatement {
  const values: unknown[] = [
    queue,
    limit,
    leaseSeconds,
    policy.maxAttempts ?? null,
    policy.deadLetterQueue ?? null,
    maxBytes,
  ];
  let past = '';
  if (after !== undefined) {
    values.push(after.availableAt, after.seq);
    past = ' AND (available_at, seq) > ($7::bigint, $8::bigint)';
  }
  return {
    text: `WITH next AS MATERIALIZED (
${candidatesInOrder(t, scanLimit, past)}
), within AS (
  SELECT ctid FROM (
    SELECT ctid, sum(bytes) OVER (ORDER BY priority DESC, available_at, seq ROWS UNBOUNDED PRECEDING) - bytes AS before
    FROM next
  ) AS sized
  WHERE before < $6::bigint${take}
), leased AS (
  UPDATE ${t.qualified} AS m
  SET ${LEASE_SET}
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM within))
  RETURNING m.*
)
SELECT ${LEASED_COLUMNS} FROM leased ORDER BY priority DESC, available_at, seq`,
    values,
  };
}

/**
 * The columns a lease returns: the message's, plus what the worker needs to place it (its lease
 * order and group), the trace context it was sent under (for the handler's span), and its
 * body's stored size.
 */
export const LEASED_COLUMNS = [
  MESSAGE_COLUMNS,
  ...['seq', 'priority', 'group_key', 'trace_context'].filter(
    (column) => !MESSAGE_COLUMNS.split(', ').includes(column),
  ),
  'pg_column_size(body) AS body_bytes',
].join(', ');

/**
 * What every lease sets; `$3` is the lease length, `$4` and `$5` the leaser's `maxAttempts` and
 * `deadLetterQueue`.
 */
export const LEASE_SET = `state = 'leased',
      attempts = m.attempts + 1,
      lease_until = ${secondsFromNow('$3::integer')},
      lease_token = gen_random_uuid(),
      max_attempts = $4::integer,
      dead_letter_queue = $5::text`;

/**
 * Whether queue `$1` is paused for every replica (`pause`): a one-time filter of each scan, so a
 * paused queue leases nothing, even to a worker that has not heard of the pause yet.
 */
export function notPaused(t: QueueTableNames): string {
  return `NOT EXISTS (SELECT 1 FROM ${t.qualifiedQueues} WHERE queue = $1::text AND paused)`;
}

/**
 * Up to `limit` due messages of queue `$1`, locked, highest priority first, then due order, then
 * enqueue order; `past` narrows the priority-0 scan (see `leaseSql`).
 *
 * Two scans, one after the other: messages with a priority from their partial index, then the
 * priority-0 ones from the queue's main index. The outer LIMIT stops pulling rows once it has
 * enough, and the second scan only starts when the first ran dry, so a queue whose messages have
 * no priority pays one probe of an empty index, and one with priorities never reads its
 * priority-0 backlog while prioritised messages are due. (The concatenation is the order the
 * caller wants; Append runs its scans in the order written, and the caller sorts the few rows it
 * keeps again anyway.) Priorities are never negative, so no third scan is needed.
 */
export function candidatesInOrder(t: QueueTableNames, limit: string, past = ''): string {
  const columns = 'ctid, priority, available_at, seq, pg_column_size(body) AS bytes';
  const due = `queue = $1::text AND state = 'ready' AND available_at <= ${NOW_SECONDS} AND ${notPaused(t)}`;
  // Each locking scan is a subquery of its own: FOR UPDATE is not allowed on a UNION's branches.
  return `  SELECT * FROM (SELECT ${columns} FROM ${t.qualified}
  WHERE ${due} AND priority > 0
  ORDER BY priority DESC, available_at, seq
  LIMIT ${limit}
  FOR UPDATE SKIP LOCKED) AS prioritised
  UNION ALL
  SELECT * FROM (SELECT ${columns} FROM ${t.qualified}
  WHERE ${due} AND priority = 0${past}
  ORDER BY available_at, seq
  LIMIT ${limit}
  FOR UPDATE SKIP LOCKED) AS plain
  LIMIT ${limit}`;
}
