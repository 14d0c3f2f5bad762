import { notify, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

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
const FENCE = `id = $1::text AND queue = $2::text AND state = 'leased' AND lease_token = $3::uuid`;
const CLEAR_LEASE = 'lease_until = NULL, lease_token = NULL';

function fenceValues(lease: LeaseRef): unknown[] {
  return [lease.id, lease.queue, lease.leaseToken];
}

export function ackSql(t: QueueTableNames, lease: LeaseRef): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET state = 'done', ${CLEAR_LEASE} WHERE ${FENCE}`,
    values: fenceValues(lease),
  };
}

/**
 * Acks many leases of one queue in one statement; each row is fenced by its own token. Returns
 * the ids that were still held, so the caller can tell which acks were refused.
 */
export function ackManySql(
  t: QueueTableNames,
  queue: string,
  leases: readonly { readonly id: string; readonly leaseToken: string }[],
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} AS m SET state = 'done', ${CLEAR_LEASE}
FROM unnest($2::text[], $3::uuid[]) AS acked(id, lease_token)
WHERE m.id = acked.id AND m.queue = $1::text AND m.state = 'leased'
  AND m.lease_token = acked.lease_token
RETURNING m.id`,
    values: [queue, leases.map((lease) => lease.id), leases.map((lease) => lease.leaseToken)],
  };
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
 * shutdown. The attempt stays counted unless refunded. A message due now wakes the listening
 * workers; one due later does not, polling finds it.
 */
export function requeueSql(
  t: QueueTableNames,
  lease: LeaseRef,
  delaySeconds: number,
  change: RequeueChange = {},
): SqlStatement {
  const values = [...fenceValues(lease), delaySeconds];
  const sets = [`state = 'ready'`, `available_at = ${secondsFromNow('$4::integer')}`, CLEAR_LEASE];
  if (change.errorJson !== undefined) {
    values.push(change.errorJson);
    sets.push(`last_error = ${errorRecord(`$${values.length}`)}`);
  }
  if (change.refundAttempt === true) sets.push('attempts = attempts - 1');
  let returning = '';
  if (delaySeconds === 0) {
    values.push(t.channel);
    returning = ` RETURNING ${notify(`$${values.length}`, 'queue')}`;
  }
  return {
    text: `UPDATE ${t.qualified} SET ${sets.join(', ')} WHERE ${FENCE}${returning}`,
    values,
  };
}

/** Extends a running lease to `leaseSeconds` from now. */
export function heartbeatSql(
  t: QueueTableNames,
  lease: LeaseRef,
  leaseSeconds: number,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET lease_until = ${secondsFromNow('$4::integer')} WHERE ${FENCE}`,
    values: [...fenceValues(lease), leaseSeconds],
  };
}

/**
 * Dead letter in place: the message stays in its queue as `failed`, with the failure recorded.
 */
export function failSql(t: QueueTableNames, lease: LeaseRef, errorJson: string): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = 'failed', ${CLEAR_LEASE}, last_error = ${errorRecord('$4')}
WHERE ${FENCE}`,
    values: [...fenceValues(lease), errorJson],
  };
}

/**
 * Dead letter moved to another queue, due at once with fresh attempts, so the dead-letter queue's
 * own processor can handle it; `origin_queue` remembers where it failed.
 */
export function moveToDeadLetterQueueSql(
  t: QueueTableNames,
  lease: LeaseRef,
  errorJson: string,
  deadLetterQueue: string,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET queue = $5::text, origin_queue = queue, state = 'ready', attempts = 0,
    available_at = floor(extract(epoch from now()))::bigint, ${CLEAR_LEASE},
    last_error = ${errorRecord('$4')}
WHERE ${FENCE}
RETURNING ${notify('$6', '$5::text')}`,
    values: [...fenceValues(lease), errorJson, deadLetterQueue, t.channel],
  };
}

/** The failure JSON from the worker, stamped with the database clock. */
function errorRecord(parameter: string): string {
  return `${parameter}::jsonb || jsonb_build_object('failedAt', floor(extract(epoch from now()))::bigint)`;
}
