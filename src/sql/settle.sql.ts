import {
  LOCKED_CTIDS,
  LOCKED_ROWS,
  lockInIdOrder,
  NOW_SECONDS,
  notify,
  secondsFromNow,
  type SqlStatement,
} from './sql-statement.js';
import { type QueueTableNames } from './table-names.js';

/** The lease a statement settles: which message, in which queue, under which token. */
export interface LeaseRef {
  readonly queue: string;
  readonly id: string;
  readonly leaseToken: string;
}

/*
 * Settling a lease is fenced by its token: the row must still be leased under the very token the
 * caller received. A stale worker (lease expired, message reaped or leased again) matches no row.
 * Parameters $1..$3 are always id, queue and lease token.
 */
export const FENCE = `id = $1::text AND queue = $2::text AND state = 'leased' AND lease_token = $3::uuid`;
const CLEAR_LEASE = 'lease_until = NULL, lease_token = NULL';

/*
 * A message whose cancel was requested while it was leased (`cancelSql`) never runs again:
 * whatever would send it back to `ready` or to the dead letters (a retry, a nack, a snooze, a
 * release at shutdown, a failed last attempt) settles it `cancelled` instead. Only an ack still
 * makes it `done`: its handler finished before its worker heard of the cancel.
 */
function unlessCancelRequested(prefix: string, state: string): string {
  return `CASE WHEN ${prefix}cancel_requested_at IS NULL THEN ${state} ELSE 'cancelled' END`;
}

/** A message of a queue, settled by its id alone (the Python backend's `ack(queue, id)`). */
export interface MessageRef {
  readonly queue: string;
  readonly id: string;
}

/*
 * Settling by id, as the Python backend does: whatever lease the message holds now, so it is not
 * fenced (a caller whose lease expired and was taken by another worker settles that worker's
 * lease). Only a `leased` message, so a `done`, `failed` or `ready` one is left alone. Parameters
 * $1..$3 are id, queue and NULL, so the statements after them number their values as the fenced
 * ones do.
 */
const BY_ID = `id = $1::text AND queue = $2::text AND state = 'leased' AND $3::uuid IS NULL`;

function isFenced(lease: LeaseRef | MessageRef): lease is LeaseRef {
  return 'leaseToken' in lease && typeof lease.leaseToken === 'string';
}

function whereOf(lease: LeaseRef | MessageRef): string {
  return isFenced(lease) ? FENCE : BY_ID;
}

function fenceValues(lease: LeaseRef | MessageRef): unknown[] {
  return [lease.id, lease.queue, isFenced(lease) ? lease.leaseToken : null];
}

/** One lease of a batch: the queue is the batch's. */
export type BatchLease = Pick<LeaseRef, 'id' | 'leaseToken'>;

/*
 * The same fence for a batch of leases of one queue. Lease tokens are random UUIDs, unique to one
 * lease of one message, so a row whose current token is in the list is exactly one of these
 * leases; the id list only lets the primary key find the rows (an index scan per id, never a
 * join the planner could turn into a scan of the table). Parameters $1..$3 are always queue, ids
 * and tokens.
 *
 * The state is compared with IS NOT DISTINCT FROM (the same test here, since state is never
 * NULL) so that no index on state can serve it: with `=`, the planner ANDed a bitmap of every
 * `leased` entry of the state index with the primary key's, and while something pins the xmin
 * horizon that index keeps an entry for every version ever leased, so a 1,000-ack statement
 * took 1.5 s instead of milliseconds (measured in bench/pinned-horizon.ts).
 */
const BATCH_FENCE = `m.id = ANY ($2::text[]) AND m.lease_token = ANY ($3::uuid[])
  AND m.queue = $1::text AND m.state IS NOT DISTINCT FROM 'leased'`;

function batchFenceValues(queue: string, leases: readonly BatchLease[]): unknown[] {
  return [queue, leases.map((lease) => lease.id), leases.map((lease) => lease.leaseToken)];
}

/** Marks a leased message `done`: fenced by its token, or by its id alone (a `MessageRef`). */
export function ackSql(
  t: QueueTableNames,
  lease: LeaseRef | MessageRef,
  resultJson?: string,
): SqlStatement {
  if (resultJson !== undefined) {
    return {
      text: `UPDATE ${t.qualified} SET state = 'done', result = $4::jsonb, ${CLEAR_LEASE} WHERE ${whereOf(lease)}`,
      values: [...fenceValues(lease), resultJson],
    };
  }
  return {
    text: `UPDATE ${t.qualified} SET state = 'done', ${CLEAR_LEASE} WHERE ${whereOf(lease)}`,
    values: fenceValues(lease),
  };
}

/** Acks many leases of one queue in one statement. Returns the ids that were still held. */
export function ackManySql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
): SqlStatement {
  return {
    text: `${lockInIdOrder(t.qualified, BATCH_FENCE)}
UPDATE ${t.qualified} AS m SET state = 'done', ${CLEAR_LEASE}
WHERE ${LOCKED_ROWS}
RETURNING m.id`,
    values: batchFenceValues(queue, leases),
    planEachTime: true,
  };
}

/**
 * A worker's ack batch: like `ackManySql`, but rows locked elsewhere are skipped instead of
 * waited for, so one locked row does not hold back the acks of every message finished after it.
 * Each row returned is an id and whether it was `busy`: still held under its token (as this
 * statement's snapshot sees it) but locked, so the worker sends its ack again shortly. A lease
 * missing from the result was lost.
 */
export function ackBatchSql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
): SqlStatement {
  return {
    text: skippingLocked(t, `state = 'done', ${CLEAR_LEASE}`, 'id'),
    values: batchFenceValues(queue, leases),
    planEachTime: true,
  };
}

/**
 * `ackBatchSql` for a batch where some handlers returned a result: each is stored in `result`,
 * looked up by the row's lease token in one JSON object parameter (`{"<token>": <result>, ...}`;
 * a token missing from it stores NULL). Only batches carrying results send it, so the plain
 * ack keeps its statement and its three parameters.
 */
export function ackBatchWithResultsSql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
  resultsByTokenJson: string,
): SqlStatement {
  return {
    text: skippingLocked(
      t,
      `state = 'done', ${CLEAR_LEASE}, result = $4::jsonb -> m.lease_token::text`,
      'id',
    ),
    values: [...batchFenceValues(queue, leases), resultsByTokenJson],
    planEachTime: true,
  };
}

/**
 * Whether a completed message can go at once under `removeOnComplete`: nothing will look for it
 * (no parent waits for it, no `waitFor` awaits it). The others are kept
 * `done`, as without the option, so flows and waiters see them end.
 */
const REMOVABLE = 'm.parent_id IS NULL AND NOT m.awaited';

/**
 * `ackSql` for a processor with `removeOnComplete`: the message is deleted instead of marked
 * `done` when nothing will look for it (see `REMOVABLE`), else marked `done` with its result.
 * Returns one row per message settled either way.
 */
export function ackRemovingSql(
  t: QueueTableNames,
  lease: LeaseRef,
  resultJson?: string,
): SqlStatement {
  const result = resultJson === undefined ? '' : ', result = $4::jsonb';
  return {
    text: `WITH removed AS (
  DELETE FROM ${t.qualified} AS m WHERE ${FENCE} AND ${REMOVABLE} RETURNING m.id
), kept AS (
  UPDATE ${t.qualified} AS m SET state = 'done'${result}, ${CLEAR_LEASE}
  WHERE ${FENCE} AND NOT (${REMOVABLE}) RETURNING m.id
)
SELECT id FROM removed UNION ALL SELECT id FROM kept`,
    values: resultJson === undefined ? fenceValues(lease) : [...fenceValues(lease), resultJson],
  };
}

/**
 * `ackBatchSql` (or `ackBatchWithResultsSql`, given results) for a processor with
 * `removeOnComplete`: each message nothing will look for is deleted, the others are marked
 * `done` (with their results). A delete writes no new row version and no index entry, where
 * marking `done` writes both. Whether a row goes is read with its lock, so each locked row is
 * found once by the statement that settles it. Rows and `busy` as `ackBatchSql`.
 */
export function ackBatchRemovingSql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
  resultsByTokenJson?: string,
): SqlStatement {
  const result =
    resultsByTokenJson === undefined ? '' : ', result = $4::jsonb -> m.lease_token::text';
  const values = batchFenceValues(queue, leases);
  if (resultsByTokenJson !== undefined) values.push(resultsByTokenJson);
  return {
    text: `${lockInIdOrder(t.qualified, BATCH_FENCE, true, `, m.ctid, ${REMOVABLE} AS removable`)}, removed AS (
  DELETE FROM ${t.qualified} AS m
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM target WHERE removable))
  RETURNING m.id
), kept AS (
  UPDATE ${t.qualified} AS m SET state = 'done'${result}, ${CLEAR_LEASE}
  WHERE m.ctid = ANY (ARRAY(SELECT ctid FROM target WHERE NOT removable))
  RETURNING m.id
), changed AS (
  SELECT id FROM removed UNION ALL SELECT id FROM kept
)
${busyOrChanged(t, 'id')}`,
    values,
    planEachTime: true,
  };
}

/**
 * A worker's batch change of its own leases (`set`, on the table aliased `m`) that skips rows
 * locked elsewhere instead of waiting for them: one locked row must not hold back the rest of the
 * batch. Each row returned is its `key` and whether it was `busy`: changed (false), or still held
 * under its token, as this statement's snapshot sees it, but locked (true). A lease in neither
 * was lost. Parameters $1..$3 are the batch fence's.
 *
 * The busy rows are looked for only when fewer rows changed than the batch has ids (a one-time
 * filter the executor checks before the scan): in the common batch where every row changed, the
 * second probe of every id cost about an eighth of the statement (pg_stat_statements, 50,000
 * acks in batches of about 700).
 */
function skippingLocked(
  t: QueueTableNames,
  set: string,
  key: 'id' | 'lease_token',
  also?: { readonly name: string; readonly expression: string },
): string {
  const returned = also === undefined ? '' : `, ${also.expression} AS ${also.name}`;
  return `${lockInIdOrder(t.qualified, BATCH_FENCE, true, ', m.ctid')}, changed AS (
  UPDATE ${t.qualified} AS m SET ${set}
  WHERE ${LOCKED_CTIDS}
  RETURNING m.${key}${returned}
)
${busyOrChanged(t, key, also)}`;
}

/**
 * The end of a batch statement whose CTE `changed` holds the rows it settled (by `key`): each
 * changed row with `busy` false, then each row of the batch fence that did not change, with
 * `busy` true (locked elsewhere; see `skippingLocked`).
 */
function busyOrChanged(
  t: QueueTableNames,
  key: 'id' | 'lease_token',
  also?: { readonly name: string; readonly expression: string },
): string {
  const returned = also === undefined ? '' : `, ${also.expression} AS ${also.name}`;
  return `SELECT ${key}, false AS busy${also === undefined ? '' : `, ${also.name}`} FROM changed
UNION ALL
SELECT m.${key}, true${returned} FROM ${t.qualified} AS m
WHERE (SELECT count(*) FROM changed) < cardinality($2::text[])
  AND ${BATCH_FENCE} AND m.${key} NOT IN (SELECT ${key} FROM changed)`;
}

/** What a requeue changes besides state and due time. */
export interface RequeueChange {
  /** Record this failure in `last_error` (a retry after a failed attempt). */
  readonly errorJson?: string;
  /** Give back the attempt this lease used (a snooze). */
  readonly refundAttempt?: boolean;
}

/**
 * Back to `ready`, due after `delaySeconds`: nack, retry after a failure, snooze, release at
 * shutdown; `cancelled` instead if a cancel was requested. The attempt stays counted unless refunded. A message due now wakes the listening
 * workers; one due later does not, polling finds it. A `MessageRef` settles by id alone (a nack
 * by id).
 */
export function requeueSql(
  t: QueueTableNames,
  lease: LeaseRef | MessageRef,
  delaySeconds: number,
  change: RequeueChange = {},
): SqlStatement {
  const values = [...fenceValues(lease), delaySeconds];
  const sets = [
    `state = ${unlessCancelRequested('', `'ready'`)}`,
    `available_at = ${secondsFromNow('$4::integer')}`,
    CLEAR_LEASE,
  ];
  if (change.errorJson !== undefined) {
    values.push(change.errorJson);
    sets.push(`last_error = ${errorRecord(`$${values.length}`)}`);
  }
  if (change.refundAttempt === true) sets.push('attempts = attempts - 1');
  // The state it ended in tells a retry that a cancel requested meanwhile made it `cancelled`.
  let returning = ' RETURNING state';
  if (delaySeconds === 0) {
    values.push(t.channel);
    returning += `, (CASE WHEN state = 'ready' THEN ${notify(`$${values.length}`, 'queue')} END)`;
  }
  return {
    text: `UPDATE ${t.qualified} SET ${sets.join(', ')} WHERE ${whereOf(lease)}${returning}`,
    values,
  };
}

/**
 * Extends many leases of one queue to `leaseSeconds` from now, one statement per worker and beat
 * rather than one per message. Returns the tokens still held, each with `cancel_requested`: a
 * cancel was asked for (`QueueService.cancel`), which the worker acts on if its NOTIFY was lost.
 * A lease missing from them was lost.
 *
 * Rows locked elsewhere (an operator's statement, a transaction of the application) are skipped,
 * not waited for: one locked row must not keep every other lease of the worker from being
 * extended. A skipped row still under its token (`busy`) counts as held; the next beat extends it.
 */
export function heartbeatManySql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
  leaseSeconds: number,
): SqlStatement {
  return {
    text: skippingLocked(t, `lease_until = ${secondsFromNow('$4::integer')}`, 'lease_token', {
      name: 'cancel_requested',
      expression: '(m.cancel_requested_at IS NOT NULL)',
    }),
    values: [...batchFenceValues(queue, leases), leaseSeconds],
    planEachTime: true,
  };
}

/**
 * Gives many leases of one queue back at once, due now, their attempts refunded: for messages a
 * worker leased ahead (prefetch) and never started, at shutdown or pause (`cancelled` instead
 * if a cancel was requested). Returns a row per lease given back.
 */
export function releaseUnstartedSql(
  t: QueueTableNames,
  queue: string,
  leases: readonly BatchLease[],
): SqlStatement {
  return {
    text: `${lockInIdOrder(t.qualified, BATCH_FENCE)}
UPDATE ${t.qualified} AS m
SET state = ${unlessCancelRequested('m.', `'ready'`)}, ${CLEAR_LEASE}, attempts = m.attempts - 1
WHERE ${LOCKED_ROWS}
RETURNING (CASE WHEN m.state = 'ready' THEN ${notify('$4', 'm.queue')} END)`,
    values: [...batchFenceValues(queue, leases), t.channel],
    planEachTime: true,
  };
}

/**
 * Dead letter in place: the message stays in its queue as `failed`, with the failure recorded
 * (`cancelled`, the failure recorded too, if a cancel was requested).
 */
export function failSql(t: QueueTableNames, lease: LeaseRef, errorJson: string): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = ${unlessCancelRequested('', `'failed'`)}, ${CLEAR_LEASE}, last_error = ${errorRecord('$4')}
WHERE ${FENCE}
RETURNING state`,
    values: [...fenceValues(lease), errorJson],
  };
}

/**
 * Dead letter moved to another queue, due at once with fresh attempts, so the dead-letter queue's
 * own processor can handle it; `origin_queue` remembers where it failed. A message whose cancel
 * was requested stays where it is, `cancelled`, the failure recorded.
 */
export function moveToDeadLetterQueueSql(
  t: QueueTableNames,
  lease: LeaseRef,
  errorJson: string,
  deadLetterQueue: string,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET queue = CASE WHEN ${MOVES} THEN $5::text ELSE queue END,
    origin_queue = CASE WHEN ${MOVES} THEN queue ELSE origin_queue END,
    state = ${unlessCancelRequested('', `'ready'`)},
    attempts = CASE WHEN ${MOVES} THEN 0 ELSE attempts END,
    available_at = CASE WHEN ${MOVES} THEN ${NOW_SECONDS} ELSE available_at END,
    ${CLEAR_LEASE},
    last_error = ${errorRecord('$4')}
WHERE ${FENCE}
RETURNING state, (CASE WHEN state = 'ready' THEN ${notify('$6', '$5::text')} END)`,
    values: [...fenceValues(lease), errorJson, deadLetterQueue, t.channel],
  };
}

/** A dead letter moves to its dead-letter queue unless a cancel was requested. */
const MOVES = 'cancel_requested_at IS NULL';

/**
 * Settles a leased message `cancelled`, fenced by its token: its cancel was requested (or its
 * handler threw `MessageCancelledError`). Not a failure: nothing is recorded in `last_error`, and
 * the attempt stays counted.
 */
export function cancelLeaseSql(t: QueueTableNames, lease: LeaseRef): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = 'cancelled', ${CLEAR_LEASE}, cancel_requested_at = COALESCE(cancel_requested_at, ${NOW_SECONDS})
WHERE ${FENCE}`,
    values: fenceValues(lease),
  };
}

/** The failure JSON from the worker, stamped with the database clock. */
function errorRecord(parameter: string): string {
  return `${parameter}::jsonb || jsonb_build_object('failedAt', ${NOW_SECONDS})`;
}
