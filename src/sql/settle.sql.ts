import { secondsFromNow, type SqlStatement } from './sql-statement.js';
import { type QueueTableNames } from './queue-table.js';

/*
 * Settling a lease is fenced by its token: the row must still be leased under the very token the
 * caller received. A stale worker (lease expired, message reaped or leased again) matches no row.
 */

export function ackSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = 'done', lease_until = NULL, lease_token = NULL
WHERE id = $1::text AND queue = $2::text AND state = 'leased' AND lease_token = $3::uuid`,
    values: [id, queue, leaseToken],
  };
}

export function nackSql(
  t: QueueTableNames,
  queue: string,
  id: string,
  leaseToken: string,
  requeueDelaySeconds: number,
): SqlStatement {
  return {
    text: `UPDATE ${t.qualified}
SET state = 'ready', available_at = ${secondsFromNow('$4::integer')}, lease_until = NULL, lease_token = NULL
WHERE id = $1::text AND queue = $2::text AND state = 'leased' AND lease_token = $3::uuid`,
    values: [id, queue, leaseToken, requeueDelaySeconds],
  };
}
