import { Inject, Injectable } from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { type QueueLease } from '../interfaces/queue-message.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import {
  failSql,
  heartbeatSql,
  moveToDeadLetterQueueSql,
  nackSql,
  retrySql,
  snoozeSql,
} from '../sql/settle.sql.js';

type Lease = QueueLease & { readonly queue: string };

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

  heartbeat(lease: Lease, leaseSeconds: number): Promise<boolean> {
    return this.run(
      'heartbeat',
      heartbeatSql(this.names, lease.queue, lease.id, lease.leaseToken, leaseSeconds),
    );
  }

  retry(lease: Lease, delaySeconds: number, errorJson: string): Promise<boolean> {
    return this.run(
      'retry',
      retrySql(this.names, lease.queue, lease.id, lease.leaseToken, delaySeconds, errorJson),
    );
  }

  snooze(lease: Lease, delaySeconds: number): Promise<boolean> {
    return this.run(
      'snooze',
      snoozeSql(this.names, lease.queue, lease.id, lease.leaseToken, delaySeconds),
    );
  }

  /** Back to `ready` at once, attempt kept: for messages a stopping worker gives up. */
  release(lease: Lease): Promise<boolean> {
    return this.run('release', nackSql(this.names, lease.queue, lease.id, lease.leaseToken, 0));
  }

  deadLetter(
    lease: Lease,
    errorJson: string,
    deadLetterQueue: string | undefined,
  ): Promise<boolean> {
    const statement =
      deadLetterQueue === undefined
        ? failSql(this.names, lease.queue, lease.id, lease.leaseToken, errorJson)
        : moveToDeadLetterQueueSql(
            this.names,
            lease.queue,
            lease.id,
            lease.leaseToken,
            errorJson,
            deadLetterQueue,
          );
    return this.run('deadLetter', statement);
  }

  private get names() {
    return this.config.names;
  }

  private async run(operation: string, statement: Parameters<QueueConnection['query']>[1]) {
    const result = await this.connection.query(operation, statement);
    return result.rowCount === 1;
  }
}
