import { Inject, Injectable } from '@nestjs/common';
import {
  DEFAULT_DONE_RETENTION_DAYS,
  DEFAULT_FAILED_RETENTION_DAYS,
  DEFAULT_MAINTENANCE_BATCH,
  type QueueConfig,
} from './config/queue-config.js';
import { QueueConnection } from './database/queue-connection.js';
import { QueueValidationError } from './errors/queue-validation.error.js';
import {
  MESSAGE_STATES,
  type LeasedMessage,
  type MessageState,
  type QueueLease,
  type QueueErrorRecord,
  type QueueMessage,
} from './interfaces/queue-message.interface.js';
import {
  type CleanupOptions,
  type CleanupResult,
  type EnqueueOptions,
  type LeaseOptions,
  type NackOptions,
  type ReapOptions,
} from './interfaces/queue-operation-options.interface.js';

/** @internal What the reaper did with expired leases of one queue. */
export interface ReapOutcome {
  readonly queue: string;
  /** `ready` (returned), `failed` (dead letter in place), `moved` (to its dead-letter queue). */
  readonly outcome: 'ready' | 'failed' | 'moved';
  readonly count: number;
}
import { type QueueStats, type StateCounts } from './interfaces/queue-stats.interface.js';
import { QUEUE_CONFIG } from './queue.constants.js';
import { enqueueManySql, enqueueSql } from './sql/enqueue.sql.js';
import { leaseSql } from './sql/lease.sql.js';
import {
  archiveOldFailedSql,
  clearQueueSql,
  deleteMessageSql,
  deleteOldDoneSql,
  listFailedSql,
  reapExpiredLeasesSql,
  retryFailedSql,
  statsSql,
} from './sql/maintenance.sql.js';
import { ackManySql, ackSql, requeueSql } from './sql/settle.sql.js';
import { type MessageRow, type SqlStatement } from './sql/sql-statement.js';
import { serializeBody } from './validation/json-body.js';
import {
  MAX_LEASE_BATCH,
  MAX_SECONDS,
  assertLeaseToken,
  assertMessageId,
  assertMessageState,
  assertOptionsObject,
  assertQueueName,
  assertWholeNumber,
  describeType,
} from './validation/queue-arguments.js';

const DEFAULT_LEASE_SECONDS = 60;
const DEFAULT_REAP_LIMIT = 10_000;
const MAX_REAP_LIMIT = 1_000_000;

/**
 * The queue: enqueue, lease, ack/nack, and the operator's tools. The TypeScript counterpart of
 * the seed's `AsyncPostgresQueue`.
 *
 * Every method validates its arguments before touching the database (a {@link QueueValidationError}
 * means nothing was written), sends exactly one statement, and reports database failures as
 * {@link QueueDatabaseError}.
 */
@Injectable()
export class QueueService {
  // Explicit @Inject everywhere: tools that compile without decorator metadata (esbuild, tsx,
  // vitest) can still wire the module.
  constructor(
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  /**
   * Adds one message to `queue`.
   *
   * @param body any JSON data (objects, arrays, strings, numbers, booleans, null) up to `maxBodyBytes`.
   * @returns the new message's id.
   */
  async enqueue<T = unknown>(queue: string, body: T, options?: EnqueueOptions): Promise<string> {
    assertQueueName(queue);
    const delay = this.delayOf(options);
    const json = serializeBody(body, 'body', this.config.maxBodyBytes);
    const result = await this.connection.query<{ id: string }>(
      'enqueue',
      enqueueSql(this.config.names, queue, json, delay),
    );
    return result.rows[0]!.id;
  }

  /**
   * Adds many messages to `queue` in one statement, all or none.
   *
   * @returns the new ids, in the order of `bodies`.
   */
  async enqueueMany<T = unknown>(
    queue: string,
    bodies: readonly T[],
    options?: EnqueueOptions,
  ): Promise<string[]> {
    assertQueueName(queue);
    if (!Array.isArray(bodies)) {
      throw new QueueValidationError('bodies', `must be an array (got ${describeType(bodies)})`);
    }
    const delay = this.delayOf(options);
    if (bodies.length === 0) return [];
    const json = new Array<string>(bodies.length);
    for (let index = 0; index < bodies.length; index++) {
      json[index] = serializeBody(bodies[index], `bodies[${index}]`, this.config.maxBodyBytes);
    }
    const result = await this.connection.query<{ ids: string[] }>(
      'enqueueMany',
      enqueueManySql(this.config.names, queue, `[${json.join(',')}]`, delay),
    );
    return result.rows[0]!.ids;
  }

  /**
   * Leases the next due message of `queue`, or returns `null` when none is due. The lease lasts
   * `leaseSeconds`; settle it with {@link ack} or {@link nack} before then.
   */
  async leaseNext<T = unknown>(
    queue: string,
    options?: LeaseOptions,
  ): Promise<LeasedMessage<T> | null> {
    const [message] = await this.lease<T>('leaseNext', queue, 1, options);
    return message ?? null;
  }

  /** Leases up to `limit` due messages of `queue` at once, oldest due first. */
  async leaseMany<T = unknown>(
    queue: string,
    limit: number,
    options?: LeaseOptions,
  ): Promise<LeasedMessage<T>[]> {
    return this.lease<T>('leaseMany', queue, limit, options);
  }

  /**
   * Marks a leased message `done`.
   *
   * @param lease the leased message (or its `id` and `leaseToken`).
   * @returns `false` when the lease is no longer the caller's (it expired and was reaped or taken
   *   by another worker) or the message is not in `queue`; nothing changes then.
   */
  async ack(queue: string, lease: QueueLease): Promise<boolean> {
    assertQueueName(queue);
    const { id, leaseToken } = this.leaseOf(lease);
    const result = await this.connection.query(
      'ack',
      ackSql(this.config.names, { queue, id, leaseToken }),
    );
    return result.rowCount === 1;
  }

  /**
   * Acks many leased messages of `queue` in one statement, each fenced by its own token.
   *
   * @returns the ids that were acked; a lease missing from it was no longer the caller's.
   */
  async ackMany(queue: string, leases: readonly QueueLease[]): Promise<string[]> {
    assertQueueName(queue);
    if (!isArray(leases)) {
      throw new QueueValidationError('leases', `must be an array (got ${describeType(leases)})`);
    }
    const checked = leases.map((lease) => this.leaseOf(lease));
    if (checked.length === 0) return [];
    const result = await this.connection.query<{ id: string }>(
      'ackMany',
      ackManySql(this.config.names, queue, checked),
    );
    return result.rows.map((row) => row.id);
  }

  /**
   * Gives a leased message back: it becomes due again after `requeueDelaySeconds`. The attempt it
   * used stays counted.
   *
   * @returns `false` when the lease is no longer the caller's; nothing changes then.
   */
  async nack(queue: string, lease: QueueLease, options?: NackOptions): Promise<boolean> {
    assertQueueName(queue);
    const { id, leaseToken } = this.leaseOf(lease);
    const { requeueDelaySeconds = 0 } = assertOptionsObject(options, 'options');
    assertWholeNumber(requeueDelaySeconds, 'requeueDelaySeconds', 0, MAX_SECONDS);
    const result = await this.connection.query(
      'nack',
      requeueSql(this.config.names, { queue, id, leaseToken }, requeueDelaySeconds),
    );
    return result.rowCount === 1;
  }

  /**
   * Returns leased messages whose lease ran out to `ready`, at most `limit` per call; one whose
   * lease was its last allowed attempt (see `LeaseOptions.maxAttempts`) becomes a dead letter.
   * Safe to run from many replicas at once. The module's scheduled reaper calls this.
   *
   * @returns how many expired leases were settled.
   */
  async reapExpiredLeases(options?: ReapOptions): Promise<number> {
    const outcomes = await this.reapExpiredLeasesByOutcome(options);
    return outcomes.reduce((total, outcome) => total + outcome.count, 0);
  }

  /** @internal The reaper's work, per queue and outcome, for its log line. */
  async reapExpiredLeasesByOutcome(options?: ReapOptions): Promise<ReapOutcome[]> {
    const { limit = DEFAULT_REAP_LIMIT } = assertOptionsObject(options, 'options');
    assertWholeNumber(limit, 'limit', 1, MAX_REAP_LIMIT);
    const result = await this.connection.query<{
      queue: string;
      state: string;
      moved: boolean;
      count: number;
    }>('reapExpiredLeases', reapExpiredLeasesSql(this.config.names, limit));
    return result.rows.map((row) => ({
      queue: row.queue,
      outcome: row.moved ? 'moved' : row.state === 'failed' ? 'failed' : 'ready',
      count: row.count,
    }));
  }

  /**
   * Deletes old `done` messages and archives old dead letters into `<table>_archive`, in batches
   * of `batchSize` rows per statement (each its own short transaction), until none are left. The
   * module's scheduled cleanup calls this; operators may too. Safe on many replicas at once.
   */
  async cleanup(options?: CleanupOptions): Promise<CleanupResult> {
    const {
      doneRetentionDays = DEFAULT_DONE_RETENTION_DAYS,
      failedRetentionDays = DEFAULT_FAILED_RETENTION_DAYS,
      batchSize = DEFAULT_MAINTENANCE_BATCH,
    } = assertOptionsObject(options, 'options');
    assertWholeNumber(batchSize, 'batchSize', 1, MAX_REAP_LIMIT);
    const doneSeconds = retentionSeconds(doneRetentionDays, 'doneRetentionDays');
    const failedSeconds = retentionSeconds(failedRetentionDays, 'failedRetentionDays');
    const { names } = this.config;
    const deleted =
      doneSeconds === undefined
        ? 0
        : await this.inBatches('cleanup', batchSize, () =>
            deleteOldDoneSql(names, doneSeconds, batchSize),
          );
    const archived =
      failedSeconds === undefined
        ? 0
        : await this.inBatches('cleanup', batchSize, () =>
            archiveOldFailedSql(names, failedSeconds, batchSize),
          );
    return { deleted, archived };
  }

  /** Runs a bounded statement until it affects fewer rows than a full batch. */
  private async inBatches(
    operation: string,
    batchSize: number,
    statement: () => SqlStatement,
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.connection.query(operation, statement());
      const affected = result.rowCount ?? 0;
      total += affected;
      if (affected < batchSize) return total;
    }
  }

  /** Message counts in total, per state and per queue and state (the seed's `get_stats`). */
  async getStats(): Promise<QueueStats> {
    const result = await this.connection.query<{
      queue: string;
      state: string;
      count: string;
      moved: string;
    }>('getStats', statsSql(this.config.names));
    const byState = emptyCounts();
    // Null prototype: a queue may legitimately be called "__proto__".
    const byQueue = Object.create(null) as Record<string, StateCounts>;
    let totalMessages = 0;
    let movedDeadLetters = 0;
    for (const row of result.rows) {
      const count = Number(row.count);
      const state = row.state as MessageState;
      totalMessages += count;
      movedDeadLetters += Number(row.moved);
      byState[state] += count;
      (byQueue[row.queue] ??= emptyCounts())[state] += count;
    }
    return {
      totalMessages,
      byState,
      byQueue,
      failedMessages: byState.failed + movedDeadLetters,
    };
  }

  /**
   * The dead letters of `queue`, oldest first: messages that failed in it (state `failed`) and
   * those its processor moved to a `deadLetterQueue`. Each carries `lastError`.
   */
  async listFailed<T = unknown>(
    queue: string,
    options?: { readonly limit?: number },
  ): Promise<QueueMessage<T>[]> {
    assertQueueName(queue);
    const { limit = 100 } = assertOptionsObject(options, 'options');
    assertWholeNumber(limit, 'limit', 1, MAX_LEASE_BATCH);
    const result = await this.connection.query<MessageRow>(
      'listFailed',
      listFailedSql(this.config.names, queue, limit),
    );
    return result.rows.map((row) => toMessage<T>(row));
  }

  /**
   * Puts dead letters of `queue` back into it, due now with fresh attempts: all of them, or only
   * those in `ids`. Moved dead letters come back from their dead-letter queue.
   *
   * @returns how many were put back.
   */
  async retryFailed(queue: string, ids?: readonly string[]): Promise<number> {
    assertQueueName(queue);
    if (ids !== undefined) {
      if (!Array.isArray(ids)) {
        throw new QueueValidationError('ids', `must be an array (got ${describeType(ids)})`);
      }
      ids.forEach((id, index) => assertMessageId(id, `ids[${index}]`));
      if (ids.length === 0) return 0;
    }
    const result = await this.connection.query(
      'retryFailed',
      retryFailedSql(this.config.names, queue, ids),
    );
    return result.rowCount ?? 0;
  }

  /**
   * Deletes the messages of `queue`, or only those in `state`.
   *
   * @returns how many were deleted.
   */
  async clearQueue(queue: string, state?: MessageState): Promise<number> {
    assertQueueName(queue);
    if (state !== undefined) assertMessageState(state);
    const result = await this.connection.query(
      'clearQueue',
      clearQueueSql(this.config.names, queue, state),
    );
    return result.rowCount ?? 0;
  }

  /** Deletes one message whatever its state. @returns whether it existed. */
  async deleteMessage(id: string): Promise<boolean> {
    assertMessageId(id);
    const result = await this.connection.query(
      'deleteMessage',
      deleteMessageSql(this.config.names, id),
    );
    return result.rowCount === 1;
  }

  private async lease<T>(
    operation: string,
    queue: string,
    limit: number,
    options: LeaseOptions | undefined,
  ): Promise<LeasedMessage<T>[]> {
    assertQueueName(queue);
    assertWholeNumber(limit, 'limit', 1, MAX_LEASE_BATCH);
    const {
      leaseSeconds = DEFAULT_LEASE_SECONDS,
      maxAttempts,
      deadLetterQueue,
    } = assertOptionsObject(options, 'options');
    assertWholeNumber(leaseSeconds, 'leaseSeconds', 1, MAX_SECONDS);
    if (maxAttempts !== undefined) assertWholeNumber(maxAttempts, 'maxAttempts', 1, MAX_SECONDS);
    if (deadLetterQueue !== undefined) {
      assertQueueName(deadLetterQueue, 'deadLetterQueue');
      if (deadLetterQueue === queue) {
        throw new QueueValidationError('deadLetterQueue', 'must differ from the queue itself');
      }
    }
    const result = await this.connection.query<MessageRow>(
      operation,
      leaseSql(this.config.names, queue, limit, leaseSeconds, {
        ...(maxAttempts === undefined ? {} : { maxAttempts }),
        ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
      }),
    );
    return result.rows.map((row) => toMessage<T>(row) as LeasedMessage<T>);
  }

  private delayOf(options: EnqueueOptions | undefined): number {
    const { delaySeconds = 0 } = assertOptionsObject(options, 'options');
    return assertWholeNumber(delaySeconds, 'delaySeconds', 0, MAX_SECONDS);
  }

  private leaseOf(lease: QueueLease): QueueLease {
    if (lease === null || typeof lease !== 'object') {
      throw new QueueValidationError(
        'lease',
        'must be the leased message (or an object with its id and leaseToken)',
      );
    }
    return { id: assertMessageId(lease.id), leaseToken: assertLeaseToken(lease.leaseToken) };
  }
}

/** Array.isArray without narrowing a typed readonly array to any[]. */
function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/** A cleanup retention in days as whole seconds, or undefined for `false` (skip). */
function retentionSeconds(days: number | false, field: string): number | undefined {
  if (days === false) return undefined;
  if (typeof days !== 'number' || !Number.isFinite(days) || days < 0) {
    throw new QueueValidationError(field, 'must be a non-negative number of days, or false');
  }
  return Math.round(days * 86_400);
}

function emptyCounts(): StateCounts {
  return Object.fromEntries(MESSAGE_STATES.map((state) => [state, 0])) as StateCounts;
}

function fromEpochSeconds(value: string): Date {
  return new Date(Number(value) * 1000);
}

export function toMessage<T>(row: MessageRow): QueueMessage<T> {
  return {
    id: row.id,
    queue: row.queue,
    body: row.body as T,
    attempts: row.attempts,
    state: row.state as MessageState,
    availableAt: fromEpochSeconds(row.available_at),
    leaseUntil: row.lease_until === null ? null : fromEpochSeconds(row.lease_until),
    createdAt: fromEpochSeconds(row.created_at),
    leaseToken: row.lease_token,
    lastError: (row.last_error ?? null) as QueueErrorRecord | null,
    originQueue: row.origin_queue,
  };
}
