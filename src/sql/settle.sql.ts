import { notify, secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

/*
 * Settling a lease is fenced by its token: the row must still be leased under the very token the
 * caller received. A stale worker (lease expired, message reaped or leased again) matches no row.
 * Parameters $1..$3 are always id, queue and lease token.
 */
const FENCE = `id = $1::text AND queue = $2::text AND state = 'leased' AND lease_token = $3::uuid`;
const CLEAR_LEASE = 'lease_until = NULL, lease_token = NULL';

/** A message back in `ready` now should wake the workers; one due later should not. */
function wakeIfDueNow(t: QueueTableNames, delaySeconds: number, channelParameter: string) {
  return delaySeconds === 0
    ? { returning: ` RETURNING ${notify(channelParameter, 'queue')}`, values: [t.channel] }
    : { returning: '', values: [] };
}

export function ackSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET state = 'done', ${CLEAR_LEASE} WHERE ${FENCE}`,
    values: [id, queue, leaseToken],
  };
}

/** Back to `ready` after `delaySeconds`; the attempt stays counted. */
export function nackSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  delaySeconds: number,
): SqlStatement {
  const wake = wakeIfDueNow(t, delaySeconds, '$5');
  return {
    text: `UPDATE ${t.qualified}
SET state = 'ready', available_at = ${secondsFromNow('$4::integer')}, ${CLEAR_LEASE}
WHERE ${FENCE}${wake.returning}`,
    values: [id, queue, leaseToken, delaySeconds, ...wake.values],
  };
}

/** A failed attempt to be retried after `delaySeconds`, with the failure recorded. */
export function retrySql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  delaySeconds: number,
  errorJson: string,
): SqlStatement {
  const wake = wakeIfDueNow(t, delaySeconds, '$6');
  return {
    text: `UPDATE ${t.qualified}
SET state = 'ready', available_at = ${secondsFromNow('$4::integer')}, ${CLEAR_LEASE},
    last_error = ${errorRecord('$5')}
WHERE ${FENCE}${wake.returning}`,
    values: [id, queue, leaseToken, delaySeconds, errorJson, ...wake.values],
  };
}

/** Later, without spending an attempt: the one this lease used is given back. */
export function snoozeSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  delaySeconds: number,
): SqlStatement {
  const wake = wakeIfDueNow(t, delaySeconds, '$5');
  return {
    text: `UPDATE ${t.qualified}
SET state = 'ready', available_at = ${secondsFromNow('$4::integer')}, ${CLEAR_LEASE},
    attempts = attempts - 1
WHERE ${FENCE}${wake.returning}`,
    values: [id, queue, leaseToken, delaySeconds, ...wake.values],
  };
}

/** Extends a running lease to `leaseSeconds` from now. */
export function heartbeatSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  leaseSeconds: number,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified} SET lease_until = ${secondsFromNow('$4::integer')} WHERE ${FENCE}`,
    values: [id, queue, leaseToken, leaseSeconds],
  };
}

/**
 * Dead letter in place: the message stays in its queue as `failed`, with the failure recorded.
 */
export function failSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  errorJson: string,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = 'failed', ${CLEAR_LEASE}, last_error = ${errorRecord('$4')}
WHERE ${FENCE}`,
    values: [id, queue, leaseToken, errorJson],
  };
}

/**
 * Dead letter moved to another queue, due at once with fresh attempts, so the dead-letter queue's
 * own processor can handle it; `origin_queue` remembers where it failed.
 */
export function moveToDeadLetterQueueSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
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
    values: [id, queue, leaseToken, errorJson, deadLetterQueue, t.channel],
  };
}

/** The failure JSON from the worker, stamped with the database clock. */
function errorRecord(parameter: string): string {
  return `${parameter}::jsonb || jsonb_build_object('failedAt', floor(extract(epoch from now()))::bigint)`;
}
