import { Inject, Injectable } from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import {
  failSql,
  heartbeatManySql,
  moveToDeadLetterQueueSql,
  releaseUnstartedSql,
  requeueSql,
  type LeaseRef,
} from '../sql/settle.sql.js';
import { type SqlStatement } from '../sql/sql-statement.js';

/**
 * The statements a worker settles leases with, beyond the public ack/nack. Each is one fenced
 * UPDATE and returns whether the caller still held the lease.
 */
@Injectable()
export class LeaseSettler {
  constructor(
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  /** Extends the leases; resolves with the tokens still held. */
  async heartbeat(
    queue: string,
    leases: readonly LeaseRef[],
    leaseSeconds: number,
  ): Promise<Set<string>> {
    const result = await this.connection.query<{ lease_token: string }>(
      'heartbeat',
      heartbeatManySql(this.config.names, queue, leases, leaseSeconds),
    );
    return new Set(result.rows.map((row) => row.lease_token));
  }

  /** Returns leases that were never started, refunding their attempts. */
  async releaseUnstarted(queue: string, leases: readonly LeaseRef[]): Promise<number> {
    if (leases.length === 0) return 0;
    const result = await this.connection.query(
      'release',
      releaseUnstartedSql(this.config.names, queue, leases),
    );
    return result.rowCount ?? 0;
  }

  /** After a failed attempt: due again after `delaySeconds`, with the failure recorded. */
  retry(lease: LeaseRef, delaySeconds: number, errorJson: string): Promise<boolean> {
    return this.run('retry', requeueSql(this.config.names, lease, delaySeconds, { errorJson }));
  }

  /** Due again after `delaySeconds`, without spending an attempt. */
  snooze(lease: LeaseRef, delaySeconds: number): Promise<boolean> {
    return this.run(
      'snooze',
      requeueSql(this.config.names, lease, delaySeconds, { refundAttempt: true }),
    );
  }

  /** Back to `ready` at once, attempt kept: for messages a stopping worker gives up. */
  release(lease: LeaseRef): Promise<boolean> {
    return this.run('release', requeueSql(this.config.names, lease, 0));
  }

  deadLetter(
    lease: LeaseRef,
    errorJson: string,
    deadLetterQueue: string | undefined,
  ): Promise<boolean> {
    return this.run(
      'deadLetter',
      deadLetterQueue === undefined
        ? failSql(this.config.names, lease, errorJson)
        : moveToDeadLetterQueueSql(this.config.names, lease, errorJson, deadLetterQueue),
    );
  }

  private async run(operation: string, statement: SqlStatement): Promise<boolean> {
    const result = await this.connection.query(operation, statement);
    return result.rowCount === 1;
  }
}
