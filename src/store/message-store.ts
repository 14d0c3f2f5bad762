import { Inject, Injectable } from '@nestjs/common';
import { MAX_FLOW_DEPTH } from '../config/limits.js';
import { type QueueConfig } from '../config/queue-config.js';
import { HandlerTransaction } from '../database/handler-transaction.js';
import { QueueConnection } from '../database/queue-connection.js';
import { type StatementSender } from '../database/statement-sender.js';
import { errorContextOf, type ErrorContext } from '../database/to-queue-database-error.js';
import { QueueDatabaseError } from '../errors/queue-database.error.js';
import {
  type LeasedMessage,
  type MessageState,
  type QueueMessage,
} from '../interfaces/queue-message.interface.js';
import { type BlockedGroup, type GroupBlock } from '../interfaces/blocked-group.interface.js';
import {
  type ArchivePartitionsResult,
  type CleanupResult,
} from '../interfaces/queue-operation-options.interface.js';
import { type QueueDepth, type QueueStats } from '../interfaces/queue-stats.interface.js';
import { type CancelResult } from '../interfaces/queue-control.interface.js';
import { type FlowChild } from '../interfaces/flow.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { maintainArchivePartitionsSql } from '../sql/archive-partitions.sql.js';
import { archiveOldFailedSql, deleteOldDoneSql } from '../sql/cleanup.sql.js';
import {
  cancelSql,
  pausedQueuesSql,
  queuePausedSql,
  setQueuePausedSql,
} from '../sql/control.sql.js';
import {
  enqueueManySql,
  enqueueSql,
  type BatchFlow,
  type EachOrAll,
  type MessageFlow,
} from '../sql/enqueue.sql.js';
import {
  flowLeaseSql,
  flowLockSql,
  type FlowLimits,
  type GroupTurn,
} from '../sql/flow-lease.sql.js';
import { childrenSql, enqueueFlowSql, type FlowRows } from '../sql/flow.sql.js';
import { blockedGroupsSql, releaseGroupSql } from '../sql/groups.sql.js';
import { idleLeaseSql, leaseSql, type LeasePosition } from '../sql/lease.sql.js';
import {
  clearQueueSql,
  deleteMessageSql,
  listFailedSql,
  retryFailedBatchSql,
  retryFailedSql,
  type RetryBatchScope,
} from '../sql/operator.sql.js';
import {
  claimSampleMinuteSql,
  deleteOldSamplesSql,
  deleteReplicaSql,
  listReplicasSql,
  listSamplesSql,
  recordSamplesSql,
  releaseSampleMinuteSql,
  replicaBeatSql,
  type ReplicaBeat,
} from '../sql/dashboard.sql.js';
import {
  toQueueReplica,
  toQueueSample,
  type ReplicaRow,
  type SampleRow,
} from './dashboard-rows.js';
import { type QueueSample } from '../interfaces/queue-sample.interface.js';
import { type QueueReplica } from '../interfaces/queue-replica.interface.js';
import { reapExpiredLeasesSql } from '../sql/reap.sql.js';
import { listMessagesSql, type MessageListFilter } from '../sql/list-messages.sql.js';
import {
  advanceScheduleSql,
  claimDueScheduleSql,
  databaseNowSql,
  deleteScheduleSql,
  deleteUndeclaredSchedulesSql,
  listSchedulesSql,
  nextScheduleDueSql,
  scheduleToRunSql,
  upsertScheduleSql,
  type ScheduleDefinition,
  type ScheduleOrigin,
} from '../sql/schedules.sql.js';
import {
  ackBatchRemovingSql,
  ackBatchSql,
  ackBatchWithResultsSql,
  ackRemovingSql,
  ackManySql,
  ackSql,
  cancelLeaseSql,
  failSql,
  heartbeatManySql,
  moveToDeadLetterQueueSql,
  releaseUnstartedSql,
  requeueSql,
  type BatchLease,
  type LeaseRef,
  type MessageRef,
} from '../sql/settle.sql.js';
import { awaitMessageSql, getMessageSql, progressSql, waitStatesSql } from '../sql/results.sql.js';
import { type SqlStatement } from '../sql/sql-statement.js';
import { databaseIdentitySql } from '../sql/identity.sql.js';
import { pingSql, queueDepthSql, statsSql } from '../sql/stats.sql.js';
import { horizonHoldersSql, statsVisibilitySql, tableVacuumSql } from '../sql/diagnostics.sql.js';
import {
  toHorizonFacts,
  toTableVacuumFacts,
  type HorizonFacts,
  type HorizonRow,
  type TableVacuumFacts,
  type TableVacuumRow,
  type VisibilityRow,
} from './diagnostics-rows.js';
import { type QueueMessageDetail } from '../interfaces/message-detail.interface.js';
import { toMessageDetail, type MessageDetailRow, type WaitStateRow } from './message-detail-row.js';
import { CallerTransactions, type DatabaseIdentity } from './caller-transactions.js';
import { toLeasedMessage, toMessage, type LeasedRow, type MessageRow } from './message-row.js';
import { toQueueDepths, toQueueStats, type DepthRow, type StatsRow } from './stats-rows.js';
import { toFlowChild, type ChildRow } from './flow-rows.js';
import {
  toScheduleDefinition,
  toScheduleInfo,
  type DueScheduleRow,
  type ScheduleRow,
} from './schedule-row.js';
import { type ScheduleInfo } from '../interfaces/schedule-options.interface.js';

/**
 * How many times a statement with unique keys is sent while a key's holder keeps appearing
 * after its snapshot. Each retry needs another transaction to take or free the same key in
 * the few milliseconds between two statements: five in a row do not happen by chance.
 */
const UNIQUE_LOOKUP_ATTEMPTS = 5;

/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = '23505';

/** SQLSTATE deadlock_detected, and how many times a statement is sent while it meets one. */
const DEADLOCK_DETECTED = '40P01';
const DEADLOCK_ATTEMPTS = 3;

function unresolvedKeys(operation: string): QueueDatabaseError {
  return new QueueDatabaseError(
    operation,
    `the message holding a unique key changed under ${UNIQUE_LOOKUP_ATTEMPTS} statements in a row; nothing was inserted for it, try again`,
  );
}

/**
 * The id a one-message insert (`enqueueSql`) returned, sending it again while it returns none.
 * Only a keyed statement can come back empty: its key's holder committed after the statement's
 * snapshot (see `enqueueSql`). A new statement sees it, or inserts.
 */
async function insertedId(
  operation: string,
  send: () => Promise<{ readonly rows: readonly { readonly id: string }[] }>,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const id = (await send()).rows[0]?.id;
    if (id !== undefined) return id;
    if (attempt === UNIQUE_LOOKUP_ATTEMPTS) throw unresolvedKeys(operation);
  }
}

/** The flow of the batch's messages at `positions`, in that order. */
function batchFlowAt(flow: BatchFlow, positions: readonly number[]): BatchFlow {
  const at = <V>(value: EachOrAll<V> | undefined): EachOrAll<V> | undefined =>
    value === undefined || !isEach(value) ? value : positions.map((index) => value[index] ?? null);
  return {
    ...(flow.priority === undefined ? {} : { priority: at(flow.priority)! }),
    ...(flow.groupKey === undefined ? {} : { groupKey: at(flow.groupKey)! }),
    ...(flow.unique === undefined
      ? {}
      : { unique: { key: at(flow.unique.key)!, rule: flow.unique.rule } }),
  };
}

function isEach<V>(value: EachOrAll<V>): value is readonly (V | null)[] {
  return Array.isArray(value);
}

/** How a lease is taken: its length, and what the reaper does if its last attempt expires. */
export interface LeasePolicy {
  readonly leaseSeconds: number;
  readonly maxAttempts?: number;
  readonly deadLetterQueue?: string;
}

/**
 * What a failed attempt's settle did: `recorded` (retry or dead letter), `cancelled` (a cancel
 * requested meanwhile made it `cancelled` instead, the failure still recorded), or `lost` (the
 * lease was no longer held: nothing changed).
 */
export type FailureSettlement = 'recorded' | 'cancelled' | 'lost';

/** One page of `listMessages`. */
export interface MessagePage<T = unknown> {
  readonly messages: QueueMessage<T>[];
  /** Whether messages follow the last one of this page. */
  readonly more: boolean;
  /** False when the page was asked after a message that no longer exists. */
  readonly afterFound: boolean;
}

/** What one worker's ack batch did. */
export interface AckBatchResult {
  readonly acked: string[];
  /** Still held under their tokens, but locked elsewhere: not acked yet. */
  readonly busy: string[];
}

/** What one lease statement claimed. */
export interface LeasedBatch<T = unknown> {
  readonly messages: LeasedMessage<T>[];
  /** Each message's body size as stored, in the same order. */
  readonly bodyBytes: number[];
  /** The lease-order position of the last message; undefined when none was leased. */
  readonly last?: LeasePosition;
}

/** What one heartbeat found, by lease token. */
export interface HeartbeatResult {
  /** The leases still held (extended, or busy: locked elsewhere, extended next beat). */
  readonly kept: Set<string>;
  /** Those of `kept` whose message has a cancel request. */
  readonly cancelRequested: Set<string>;
}

/** What one flow-controlled lease claimed, and what the limits left. */
export interface LimitedBatch<T = unknown> {
  readonly messages: LeasedMessage<T>[];
  readonly bodyBytes: number[];
  /** The last group a grouped lease reached in its walk (see `nextGroupTurn`). */
  readonly lastGroup: string | null;
  /** Messages the limits allowed this lease (it may have found fewer due). */
  readonly room: number;
  /** When the rate limit stopped it: ms until the oldest start it counted leaves its window. */
  readonly rateWaitMs?: number;
}

/** A row of `flowLeaseSql`: the room left, and a leased message's columns (NULL when none). */
type FlowRow = {
  readonly room: number;
  readonly rate_wait_ms: number | null;
  readonly last_group: string | null;
} & (LeasedRow | { readonly [column in keyof LeasedRow]: null });

/** What the reaper did with expired leases of one queue. */
export interface ReapOutcome {
  readonly queue: string;
  /**
   * `ready` (returned), `failed` (dead letter in place), `moved` (to its dead-letter queue),
   * `cancelled` (a cancel was requested).
   */
  readonly outcome: 'ready' | 'failed' | 'moved' | 'cancelled';
  readonly count: number;
  /** The ids of the messages reaped. */
  readonly ids: readonly string[];
  /** For `moved`: the queue they failed in (`queue` is their dead-letter queue now). */
  readonly fromQueue?: string;
}

/** What one cleanup run removes; an undefined retention skips that part. */
export interface CleanupPlan {
  readonly doneRetentionSeconds: number | undefined;
  readonly failedRetentionSeconds: number | undefined;
  readonly batchSize: number;
  /** Asked before each batch: true stops the run there (the application is shutting down). */
  readonly stopped?: () => boolean;
}

/** A schedule to upsert, and how its first tick follows from the database's clock. */
export interface ScheduleUpsert {
  readonly definition: ScheduleDefinition;
  readonly origin: ScheduleOrigin;
  /** Its first tick after `nowMs` (used for a new row, or one whose expression changed). */
  readonly firstTickAfter: (nowMs: number) => number;
}

/** What a due schedule enqueues now (see `planTicks`): its ticks and its next tick. */
export interface ScheduleTicks {
  /** Epoch ms of each tick to enqueue a message for, oldest first. */
  readonly ticks: readonly number[];
  readonly next: number;
  /** The unique key of the message of `tick`. */
  readonly keyOf: (tick: number) => string;
  /** How long a tick's key is held (`uniqueWindowSeconds`). */
  readonly keyWindowSeconds: number;
  /** The trace context the ticks' messages carry (see `MessageFlow.traceContext`). */
  readonly traceContext?: string;
}

/** What the claim of one due schedule enqueued. */
export interface FiredSchedule {
  readonly name: string;
  readonly queue: string;
  readonly ticks: readonly number[];
  /** Ids of the messages of `ticks`, in order (an id held already by its key, if any). */
  readonly ids: readonly string[];
  readonly next: number;
}

/** What one sampler run wrote: nothing when another replica had claimed the minute. */
export interface RecordedSamples {
  /** The minute sampled, or null when it was taken already. */
  readonly minute: Date | null;
  /** Rows written: one per queue. */
  readonly queues: number;
  /** Sampled minutes deleted past retention. */
  readonly expiredMinutes: number;
}

/** One batch of `retryFailedBatchSql`. */
export interface RetryBatch {
  readonly seen: number;
  readonly retried: number;
  readonly last: string | null;
  readonly skipped: string[];
}

/**
 * The one door to the queue table: every queue statement of the package is sent here, once,
 * and comes back typed. It trusts its arguments (the public `QueueService` validates a caller's
 * input; workers, health and maintenance pass what the configuration or the database gave them)
 * and reports failures as `QueueDatabaseError`, named by the operation.
 */
@Injectable()
export class MessageStore {
  // Explicit @Inject: tools that compile without decorator metadata (esbuild, tsx, vitest) can
  // still wire the module.
  constructor(
    @Inject(QueueConnection) private readonly connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  private get names() {
    return this.config.names;
  }

  /** Made on the first call with a caller's manager; plain calls never need it. */
  private callers: CallerTransactions | undefined;
  private errorContext: ErrorContext | undefined;

  /**
   * A sender on a caller's TypeORM `EntityManager` (named `field` in errors), for `enqueue` and
   * `enqueueMany` inside the caller's transaction; refused unless it reaches the queue's database.
   */
  through(manager: unknown, field: string): Promise<StatementSender> {
    this.callers ??= new CallerTransactions(
      (via) => this.identity(via),
      () => this.connection.requireDataSource(),
      (this.errorContext ??= errorContextOf(this.config)),
    );
    return this.callers.senderFor(manager, field);
  }

  private async identity(via?: StatementSender): Promise<DatabaseIdentity> {
    const result = await (via ?? this.connection).query<DatabaseIdentity>(
      'checkManager',
      databaseIdentitySql(),
    );
    return result.rows[0]!;
  }

  /** A transactional processor's transaction, begun on a connection of the module's DataSource. */
  beginHandlerTransaction(): Promise<HandlerTransaction> {
    return HandlerTransaction.begin(
      this.connection.requireDataSource(),
      (this.errorContext ??= errorContextOf(this.config)),
    );
  }

  /**
   * The fenced ack, inside `transaction`, storing `resultJson` when given: whether the lease
   * was still held.
   */
  async ackIn(
    transaction: HandlerTransaction,
    lease: LeaseRef,
    resultJson?: string,
    remove = false,
  ): Promise<boolean> {
    const result = await transaction.sender.query(
      'ack',
      remove
        ? ackRemovingSql(this.names, lease, resultJson)
        : ackSql(this.names, lease, resultJson),
    );
    return result.rowCount === 1;
  }

  /** The most connections the module's pool opens. */
  poolMaxSize(): number {
    return this.connection.poolMaxSize();
  }

  /**
   * @returns the new message's id; with a unique key that is held, the holder's id (nothing is
   *   inserted then).
   */
  async enqueue(
    queue: string,
    bodyJson: string,
    delaySeconds: number,
    flow?: MessageFlow,
    via?: StatementSender,
  ): Promise<string> {
    const statement = enqueueSql(this.names, queue, bodyJson, delaySeconds, flow);
    return insertedId('enqueue', () =>
      (via ?? this.connection).query<{ id: string }>('enqueue', statement),
    );
  }

  /**
   * @returns the ids, in the order of `bodiesJson` (each body's JSON): new ones, or with unique
   *   keys, the id of the message that holds a key already (see `enqueueManySql`).
   */
  async enqueueMany(
    queue: string,
    bodiesJson: readonly string[],
    delaySeconds: number,
    flow?: BatchFlow,
    via?: StatementSender,
  ): Promise<string[]> {
    if (flow?.unique === undefined) {
      const result = await (via ?? this.connection).query<{ ids: string[] }>(
        'enqueueMany',
        enqueueManySql(this.names, queue, `[${bodiesJson.join(',')}]`, delaySeconds, flow),
      );
      return result.rows[0]!.ids;
    }
    // Positions whose key's holder committed after the statement's snapshot were not inserted
    // and got no id: they alone are sent again, in the same transaction (each statement of it
    // sees what was committed before it began), so the batch stays all or nothing and nothing
    // is inserted twice. Through a caller's manager, that transaction is the caller's own.
    return (via ?? this.connection).transaction('enqueueMany', async (send) => {
      const batch = async (indexes: readonly number[] | undefined) => {
        const result = await send<{ ids: (string | null)[] }>(
          enqueueManySql(
            this.names,
            queue,
            `[${(indexes === undefined ? bodiesJson : indexes.map((index) => bodiesJson[index]!)).join(',')}]`,
            delaySeconds,
            indexes === undefined ? flow : batchFlowAt(flow, indexes),
          ),
        );
        return result.rows[0]!.ids;
      };
      const ids = await batch(undefined);
      for (let attempt = 2; ; attempt++) {
        const pending = [...ids.keys()].filter((index) => ids[index] === null);
        if (pending.length === 0) return ids as string[];
        if (attempt > UNIQUE_LOOKUP_ATTEMPTS) throw unresolvedKeys('enqueueMany');
        const again = await batch(pending);
        pending.forEach((index, position) => (ids[index] = again[position]!));
      }
    });
  }

  /**
   * Inserts a whole flow in one statement (see `enqueueFlowSql`); all or nothing. With `via`,
   * on the caller's transaction's connection (a `manager`): one statement needs nothing more.
   */
  async enqueueFlow(rows: FlowRows, via?: StatementSender): Promise<void> {
    await (via ?? this.connection).query('enqueueFlow', enqueueFlowSql(this.names, rows));
  }

  /** The children of a flow's parent, in the flow's order. */
  async children<R>(parentId: string): Promise<FlowChild<R>[]> {
    const result = await this.connection.query<ChildRow>(
      'getChildren',
      childrenSql(this.names, parentId),
    );
    return result.rows.map((row) => toFlowChild<R>(row));
  }

  /**
   * Leases up to `limit` due messages of `queue`, oldest due first, while their bodies stay
   * within `maxBytes` (at least one message); with `after`, only past that position (see
   * `leaseSql`).
   */
  async lease<T>(
    queue: string,
    limit: number,
    policy: LeasePolicy,
    maxBytes: number,
    operation: 'leaseNext' | 'leaseMany' = 'leaseMany',
    after?: LeasePosition,
    /** Sends `idleLeaseSql` with this scan limit instead (a worker whose last lease came back short). */
    idleScanLimit?: number,
  ): Promise<LeasedBatch<T>> {
    const { leaseSeconds } = policy;
    const result = await this.connection.query<LeasedRow>(
      operation,
      idleScanLimit === undefined
        ? leaseSql(this.names, queue, limit, leaseSeconds, policy, maxBytes, after)
        : idleLeaseSql(
            this.names,
            queue,
            limit,
            idleScanLimit,
            leaseSeconds,
            policy,
            maxBytes,
            after,
          ),
    );
    // The scan start only concerns the priority-0 scan (see `leaseSql`).
    const last = result.rows.findLast((row) => row.priority === 0);
    return {
      messages: result.rows.map((row) => toLeasedMessage<T>(row)),
      bodyBytes: result.rows.map((row) => row.body_bytes),
      ...(last === undefined ? {} : { last: { availableAt: last.available_at, seq: last.seq } }),
    };
  }

  /**
   * Leases up to `want` due messages of `queue` within `limits`, in one transaction that first
   * takes the queue's flow lock (see `flowLockSql`), so that the limits hold across replicas.
   */
  async leaseWithinLimits<T>(
    queue: string,
    want: number,
    policy: LeasePolicy,
    limits: FlowLimits,
    turn: GroupTurn,
  ): Promise<LimitedBatch<T>> {
    const rows = await this.connection.transaction('leaseMany', async (send) => {
      await send(flowLockSql(this.names, queue));
      const result = await send<FlowRow>(
        flowLeaseSql(this.names, queue, want, policy.leaseSeconds, policy, limits, turn),
      );
      return result.rows;
    });
    const leased = rows.filter((row): row is FlowRow & LeasedRow => row.id !== null);
    return {
      messages: leased.map((row) => toLeasedMessage<T>(row)),
      bodyBytes: leased.map((row) => row.body_bytes),
      lastGroup: rows[0]?.last_group ?? null,
      room: rows[0]?.room ?? 0,
      ...(rows[0]?.rate_wait_ms == null ? {} : { rateWaitMs: rows[0].rate_wait_ms }),
    };
  }

  /**
   * @returns whether the lease was still held (and the message is now `done`); by a
   *   `MessageRef`, whether the message was leased at all (unfenced).
   */
  ack(lease: LeaseRef | MessageRef): Promise<boolean> {
    return this.settle('ack', ackSql(this.names, lease));
  }

  /**
   * A worker's ack batch: rows locked elsewhere are skipped, not waited for. With
   * `resultsByTokenJson` (a JSON object of result JSON by lease token), results are stored too.
   * With `remove` (the processor's `removeOnComplete`), a message nothing looks for is deleted.
   * @returns the ids acked, and those still held but locked (`busy`: send them again later); a
   *   lease missing from both was no longer held.
   */
  async ackBatch(
    queue: string,
    leases: readonly BatchLease[],
    resultsByTokenJson?: string,
    remove = false,
  ): Promise<AckBatchResult> {
    const result = await this.connection.query<{ id: string; busy: boolean }>(
      'ackBatch',
      remove
        ? ackBatchRemovingSql(this.names, queue, leases, resultsByTokenJson)
        : resultsByTokenJson === undefined
          ? ackBatchSql(this.names, queue, leases)
          : ackBatchWithResultsSql(this.names, queue, leases, resultsByTokenJson),
    );
    const acked: string[] = [];
    const busy: string[] = [];
    for (const row of result.rows) (row.busy ? busy : acked).push(row.id);
    return { acked, busy };
  }

  /** @returns the ids acked; a lease missing from them was no longer held. */
  async ackMany(queue: string, leases: readonly BatchLease[]): Promise<string[]> {
    const result = await this.retryingDeadlocks<{ id: string }>(
      'ackMany',
      ackManySql(this.names, queue, leases),
    );
    return result.rows.map((row) => row.id);
  }

  /** Back to `ready` after `delaySeconds`, the attempt kept; a `MessageRef` is unfenced. */
  nack(lease: LeaseRef | MessageRef, delaySeconds: number): Promise<boolean> {
    return this.settle('nack', requeueSql(this.names, lease, delaySeconds));
  }

  /** After a failed attempt: due again after `delaySeconds`, with the failure recorded. */
  retry(lease: LeaseRef, delaySeconds: number, errorJson: string): Promise<FailureSettlement> {
    return this.settleFailure('retry', requeueSql(this.names, lease, delaySeconds, { errorJson }));
  }

  /** Due again after `delaySeconds`, without spending an attempt. */
  snooze(lease: LeaseRef, delaySeconds: number): Promise<boolean> {
    return this.settle(
      'snooze',
      requeueSql(this.names, lease, delaySeconds, { refundAttempt: true }),
    );
  }

  /** Back to `ready` at once, attempt kept: for messages a stopping worker gives up. */
  release(lease: LeaseRef): Promise<boolean> {
    return this.settle('release', requeueSql(this.names, lease, 0));
  }

  /** Returns leases that were never started, refunding their attempts. */
  async releaseUnstarted(queue: string, leases: readonly BatchLease[]): Promise<number> {
    if (leases.length === 0) return 0;
    return this.count('release', releaseUnstartedSql(this.names, queue, leases));
  }

  /** Extends the leases; resolves with the tokens still held, and those asked to cancel. */
  async heartbeat(
    queue: string,
    leases: readonly BatchLease[],
    leaseSeconds: number,
  ): Promise<HeartbeatResult> {
    const result = await this.connection.query<{ lease_token: string; cancel_requested: boolean }>(
      'heartbeat',
      heartbeatManySql(this.names, queue, leases, leaseSeconds),
    );
    const kept = new Set<string>();
    const cancelRequested = new Set<string>();
    for (const row of result.rows) {
      kept.add(row.lease_token);
      if (row.cancel_requested) cancelRequested.add(row.lease_token);
    }
    return { kept, cancelRequested };
  }

  /** Settles a leased message `cancelled`, fenced. @returns whether the lease was still held. */
  cancelLease(lease: LeaseRef): Promise<boolean> {
    return this.settle('cancelLease', cancelLeaseSql(this.names, lease));
  }

  /**
   * Cancels message `id` (of `queue` only, when given); see `cancelSql`. Also says which queue
   * the message was in (null when not found), for the `cancelled` event.
   */
  async cancel(
    id: string,
    queue: string | undefined,
  ): Promise<{ readonly result: CancelResult; readonly queue: string | null }> {
    const result = await this.retryingDeadlocks<{ result: CancelResult; queue: string | null }>(
      'cancel',
      cancelSql(this.names, id, queue, MAX_FLOW_DEPTH),
    );
    return result.rows[0]!;
  }

  /** Pauses or resumes `queue` for every replica, and notifies them. */
  async setQueuePaused(queue: string, paused: boolean): Promise<void> {
    await this.connection.query(
      paused ? 'pause' : 'resume',
      setQueuePausedSql(this.names, queue, paused),
    );
  }

  /** Whether `queue` is paused for every replica. */
  async queuePaused(queue: string): Promise<boolean> {
    const result = await this.connection.query<{ paused: boolean }>(
      'isPaused',
      queuePausedSql(this.names, queue),
    );
    return result.rows[0]?.paused ?? false;
  }

  /** Which of `queues` are paused for every replica. */
  async pausedQueues(queues: readonly string[]): Promise<Set<string>> {
    const result = await this.connection.query<{ queue: string }>(
      'pausedQueues',
      pausedQueuesSql(this.names, queues),
    );
    return new Set(result.rows.map((row) => row.queue));
  }

  /** `failed` in place, or moved to `deadLetterQueue`; the failure recorded either way. */
  deadLetter(
    lease: LeaseRef,
    errorJson: string,
    deadLetterQueue: string | undefined,
  ): Promise<FailureSettlement> {
    return this.settleFailure(
      'deadLetter',
      deadLetterQueue === undefined
        ? failSql(this.names, lease, errorJson)
        : moveToDeadLetterQueueSql(this.names, lease, errorJson, deadLetterQueue),
    );
  }

  /** Settles up to `limit` expired leases; what happened, per queue and outcome. */
  async reapExpiredLeases(limit: number): Promise<ReapOutcome[]> {
    const result = await this.connection.query<{
      queue: string;
      state: string;
      moved: boolean;
      from_queue: string | null;
      count: number;
      ids: string[];
    }>('reapExpiredLeases', reapExpiredLeasesSql(this.names, limit));
    return result.rows.map((row) => ({
      queue: row.queue,
      outcome: row.moved
        ? 'moved'
        : row.state === 'failed' || row.state === 'cancelled'
          ? row.state
          : 'ready',
      count: row.count,
      ids: row.ids,
      ...(row.from_queue === null ? {} : { fromQueue: row.from_queue }),
    }));
  }

  /**
   * Deletes old `done` messages and archives old dead letters, `batchSize` rows per statement
   * (each its own short transaction), until none are left.
   */
  async cleanup(plan: CleanupPlan): Promise<CleanupResult> {
    const { doneRetentionSeconds: done, failedRetentionSeconds: failed, batchSize } = plan;
    const stopped = plan.stopped ?? (() => false);
    const deleted =
      done === undefined
        ? 0
        : await this.inBatches(batchSize, stopped, () =>
            deleteOldDoneSql(this.names, done, batchSize),
          );
    const archived =
      failed === undefined
        ? 0
        : await this.inBatches(batchSize, stopped, () =>
            archiveOldFailedSql(this.names, failed, batchSize),
          );
    return { deleted, archived };
  }

  /**
   * Runs the archive's partition keeper: the current week's partition and `ahead` more created,
   * partitions whose rows are all older than `keepSeconds` dropped (none when undefined).
   */
  async maintainArchivePartitions(
    ahead: number,
    keepSeconds: number | undefined,
  ): Promise<ArchivePartitionsResult> {
    const created: string[] = [];
    const dropped: string[] = [];
    let moved = 0;
    // The keeper drops one partition a call (one short exclusive hold of the archive each).
    for (;;) {
      const result = await this.connection.query<{
        created: string[];
        dropped: string[];
        moved: number;
      }>(
        'maintainArchivePartitions',
        maintainArchivePartitionsSql(this.names, ahead, keepSeconds ?? null),
      );
      const row = result.rows[0]!;
      created.push(...row.created);
      dropped.push(...row.dropped);
      moved += row.moved;
      if (row.dropped.length === 0) return { created, dropped, moved };
    }
  }

  /** Counts of every queue, or of `queue` only. */
  async stats(queue?: string): Promise<QueueStats> {
    const result = await this.connection.query<StatsRow>('getStats', statsSql(this.names, queue));
    return toQueueStats(result.rows);
  }

  /**
   * Depth of every queue holding live messages, ready ones counted up to `countLimit`. Health
   * checks pass their `timeoutMs`, so a slow answer frees its pool connection, not only the probe.
   */
  async depths(countLimit: number, timeoutMs?: number): Promise<Record<string, QueueDepth>> {
    const result = await this.connection.query<DepthRow>(
      'healthDepth',
      queueDepthSql(this.names, countLimit + 1),
      { timeoutMs },
    );
    return toQueueDepths(result.rows, countLimit);
  }

  /**
   * What holds the xmin horizon back, and the queue table's dead tuples (null when the table is
   * missing): the statements the doctor reads them with.
   */
  async vacuumFacts(
    timeoutMs?: number,
  ): Promise<{ horizon: HorizonFacts; table: TableVacuumFacts | null }> {
    const options = { timeoutMs };
    const holders = await this.connection.query<HorizonRow>(
      'healthVacuum',
      horizonHoldersSql(),
      options,
    );
    const visibility = await this.connection.query<VisibilityRow>(
      'healthVacuum',
      statsVisibilitySql(),
      options,
    );
    const table = await this.connection.query<TableVacuumRow>(
      'healthVacuum',
      tableVacuumSql(this.names),
      options,
    );
    return {
      horizon: toHorizonFacts(holders.rows, visibility.rows[0]),
      table: toTableVacuumFacts(table.rows[0]),
    };
  }

  async ping(timeoutMs?: number): Promise<void> {
    await this.connection.query('healthPing', pingSql(), { timeoutMs });
  }

  async listFailed<T>(queue: string, limit: number): Promise<QueueMessage<T>[]> {
    const result = await this.connection.query<MessageRow>(
      'listFailed',
      listFailedSql(this.names, queue, limit),
    );
    return result.rows.map((row) => toMessage<T>(row));
  }

  /** Groups an ordered processor cannot take from now, in key order. */
  async blockedGroups(queue: string, limit: number): Promise<BlockedGroup[]> {
    const result = await this.connection.query<{
      group_key: string;
      reason: GroupBlock;
      id: string;
      at: string;
    }>('listBlockedGroups', blockedGroupsSql(this.names, queue, limit));
    return result.rows.map((row) => ({
      groupKey: row.group_key,
      reason: row.reason,
      messageId: row.id,
      at: new Date(Number(row.at) * 1000),
    }));
  }

  /** @returns how many dead letters left the group. */
  releaseGroup(queue: string, groupKey: string): Promise<number> {
    return this.count('releaseGroup', releaseGroupSql(this.names, queue, groupKey));
  }

  /** @returns how many dead letters were put back. */
  retryFailed(queue: string, ids: readonly string[] | undefined): Promise<number> {
    const statement = retryFailedSql(this.names, queue, ids);
    return this.againWhileKeyTaken(() => this.count('retryFailed', statement));
  }

  /** One batch of a long retry (see `retryFailedBatchSql`), sent again as `retryFailed` is. */
  retryFailedBatch(queue: string, scope: RetryBatchScope): Promise<RetryBatch> {
    const statement = retryFailedBatchSql(this.names, queue, scope);
    return this.againWhileKeyTaken(
      async () => (await this.connection.query<RetryBatch>('retryFailed', statement)).rows[0]!,
    );
  }

  /**
   * Sends a statement that puts dead letters back again while it fails on a unique key. A key
   * taken after the statement's snapshot is only seen by the unique index: 23505 on it means
   * "send again", and the next snapshot leaves that dead letter alone.
   */
  private async againWhileKeyTaken<T>(send: () => Promise<T>): Promise<T> {
    const uniqueIndexes = [this.names.indexes.unique, this.names.indexes.uniqueWindow].map((name) =>
      name.slice(1, -1),
    );
    for (let attempt = 1; ; attempt++) {
      try {
        return await send();
      } catch (error) {
        const keyTaken =
          error instanceof QueueDatabaseError &&
          error.code === UNIQUE_VIOLATION &&
          uniqueIndexes.includes(error.constraint ?? '');
        if (!keyTaken || attempt === UNIQUE_LOOKUP_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Samples the minute that just closed, if no replica did yet, then deletes samples past
   * `retentionHours` (up to `expireMinutes` minutes of them). The claim is its own statement
   * (see `claimSampleMinuteSql`); a sample that fails gives it back.
   */
  async recordSamples(retentionHours: number, expireMinutes: number): Promise<RecordedSamples> {
    const claim = await this.connection.query<{ minute: Date }>(
      'recordSamples',
      claimSampleMinuteSql(this.names),
    );
    const minute = claim.rows[0]?.minute;
    if (minute === undefined) return { minute: null, queues: 0, expiredMinutes: 0 };
    let queues: number;
    try {
      queues = await this.count('recordSamples', recordSamplesSql(this.names, minute));
    } catch (error) {
      await this.connection
        .query('recordSamples', releaseSampleMinuteSql(this.names, minute))
        .catch(() => undefined);
      throw error;
    }
    const expiredMinutes = await this.count(
      'recordSamples',
      deleteOldSamplesSql(this.names, retentionHours, expireMinutes),
    );
    return { minute, queues, expiredMinutes };
  }

  async listSamples(sinceMinutes: number, queue: string | undefined): Promise<QueueSample[]> {
    const result = await this.connection.query<SampleRow>(
      'listSamples',
      listSamplesSql(this.names, sinceMinutes, queue),
    );
    return result.rows.map(toQueueSample);
  }

  /** Upserts this process's heartbeat row, and forgets replicas gone for `forgetSeconds`. */
  async replicaBeat(beat: ReplicaBeat, forgetSeconds: number): Promise<void> {
    await this.connection.query(
      'replicaHeartbeat',
      replicaBeatSql(this.names, beat, forgetSeconds),
    );
  }

  async deleteReplica(id: string): Promise<void> {
    await this.connection.query('replicaHeartbeat', deleteReplicaSql(this.names, id));
  }

  async listReplicas(): Promise<QueueReplica[]> {
    const result = await this.connection.query<ReplicaRow>(
      'listReplicas',
      listReplicasSql(this.names),
    );
    return result.rows.map(toQueueReplica);
  }

  /**
   * One page of a queue's messages in enqueue order (see `listMessagesSql`), and whether another
   * page follows. A page after a message that no longer exists is empty, and `afterFound` says
   * why (one more read, only then).
   */
  async listMessages<T>(filter: MessageListFilter): Promise<MessagePage<T>> {
    const result = await this.connection.query<MessageRow>(
      'listMessages',
      listMessagesSql(this.names, filter),
    );
    const rows = result.rows.slice(0, filter.limit);
    const afterFound =
      result.rows.length > 0 ||
      filter.afterId === undefined ||
      (await this.getMessage(filter.afterId)) !== null;
    return {
      messages: rows.map((row) => toMessage<T>(row)),
      more: result.rows.length > filter.limit,
      afterFound,
    };
  }

  /** @returns how many messages were deleted. */
  clearQueue(queue: string, state: MessageState | undefined): Promise<number> {
    return this.count('clearQueue', clearQueueSql(this.names, queue, state));
  }

  /** @returns whether the message existed. */
  deleteMessage(id: string): Promise<boolean> {
    return this.settle('deleteMessage', deleteMessageSql(this.names, id));
  }

  /** One message by id, with its result and progress; null when there is none. */
  async getMessage<T, R>(id: string): Promise<QueueMessageDetail<T, R> | null> {
    const result = await this.connection.query<MessageDetailRow>(
      'getMessage',
      getMessageSql(this.names, id),
    );
    const row = result.rows[0];
    return row === undefined ? null : toMessageDetail<T, R>(row);
  }

  /**
   * Marks message `id` awaited (its end is notified on the finished channel) and returns its
   * state now; undefined when it does not exist.
   */
  async awaitMessage(id: string): Promise<WaitStateRow | undefined> {
    const result = await this.connection.query<WaitStateRow>(
      'waitFor',
      awaitMessageSql(this.names, id),
    );
    return result.rows[0];
  }

  /** The state of awaited messages; an id missing from the rows does not exist. */
  async waitStates(ids: readonly string[]): Promise<WaitStateRow[]> {
    const result = await this.connection.query<WaitStateRow>(
      'waitFor',
      waitStatesSql(this.names, ids),
    );
    return result.rows;
  }

  /** Records a running message's progress, fenced. @returns whether the lease still held. */
  recordProgress(lease: LeaseRef, json: string): Promise<boolean> {
    return this.settle('progress', progressSql(this.names, lease, json));
  }

  /**
   * Sends a statement that waits for many row locks, again while it meets a deadlock. Flows
   * bring lock orders that cross: a cancel locks a parent, then its children; a child's end
   * locks the child, then its parent (the table's trigger); an `ackMany` of children of several
   * parents locks them in its rows' order. A deadlock rolls the statement back whole, so sending
   * it again is safe (and the acks are fenced).
   */
  private async retryingDeadlocks<Row extends object>(
    operation: string,
    statement: SqlStatement,
  ): Promise<{ rows: Row[] }> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.connection.query<Row>(operation, statement);
      } catch (error) {
        const deadlock = error instanceof QueueDatabaseError && error.code === DEADLOCK_DETECTED;
        if (!deadlock || attempt === DEADLOCK_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Upserts `schedules` and, with `prune`, deletes the code-declared schedules of its owner no
   * longer among them, in one transaction; the first ticks follow from the database's clock.
   */
  async upsertSchedules(
    schedules: readonly ScheduleUpsert[],
    prune?: { readonly owner: string },
  ): Promise<{ readonly deleted: string[] }> {
    return this.connection.transaction('schedule', async (send) => {
      const now = (await send<{ now_ms: number }>(databaseNowSql())).rows[0]!.now_ms;
      for (const { definition, origin, firstTickAfter } of schedules) {
        await send(upsertScheduleSql(this.names, definition, origin, firstTickAfter(now)));
      }
      if (prune === undefined) return { deleted: [] };
      const names = schedules.map((schedule) => schedule.definition.name);
      const result = await send<{ name: string }>(
        deleteUndeclaredSchedulesSql(this.names, prune.owner, names),
      );
      return { deleted: result.rows.map((row) => row.name) };
    });
  }

  /** @returns whether the schedule existed. */
  async deleteSchedule(name: string): Promise<boolean> {
    return this.settle('unschedule', deleteScheduleSql(this.names, name));
  }

  async listSchedules<T>(): Promise<ScheduleInfo<T>[]> {
    const result = await this.connection.query<ScheduleRow>(
      'listSchedules',
      listSchedulesSql(this.names),
    );
    return result.rows.map((row) => toScheduleInfo<T>(row));
  }

  /**
   * Enqueues one message of the schedule `name` now (due at once, its priority and group kept,
   * no unique key), leaving its ticks alone. @returns the message's id, or null when no schedule
   * has this name.
   */
  async runScheduleNow(name: string): Promise<string | null> {
    return this.connection.transaction('runScheduleNow', async (send) => {
      const row = (
        await send<{
          queue: string;
          body_json: string;
          priority: number;
          group_key: string | null;
        }>(scheduleToRunSql(this.names, name))
      ).rows[0];
      if (row === undefined) return null;
      const statement = enqueueSql(this.names, row.queue, row.body_json, 0, {
        priority: row.priority,
        ...(row.group_key === null ? {} : { groupKey: row.group_key }),
      });
      return insertedId('runScheduleNow', () => send<{ id: string }>(statement));
    });
  }

  /**
   * Claims the earliest due schedule no other replica holds (nor in `excluded`) and, in the same
   * transaction, enqueues the messages `plan` decides for it and moves it on to its next tick: a
   * tick is enqueued by the one transaction that moved the row past it, or by none (rolled back
   * with it). `plan` is called once the row is locked, before anything is enqueued.
   *
   * @returns what it enqueued, or null when no schedule was due.
   */
  async fireDueSchedule(
    excluded: readonly string[],
    plan: (definition: ScheduleDefinition, nextMs: number, nowMs: number) => ScheduleTicks,
  ): Promise<FiredSchedule | null> {
    return this.connection.transaction('scheduleTick', async (send) => {
      const row = (await send<DueScheduleRow>(claimDueScheduleSql(this.names, excluded))).rows[0];
      if (row === undefined) return null;
      const definition = toScheduleDefinition(row);
      const { ticks, next, keyOf, keyWindowSeconds, traceContext } = plan(
        definition,
        row.next_ms,
        row.now_ms,
      );
      const ids: string[] = [];
      for (const tick of ticks) {
        const statement = enqueueSql(
          this.names,
          definition.queue,
          definition.bodyJson,
          definition.delaySeconds,
          {
            priority: definition.priority,
            unique: {
              key: keyOf(tick),
              rule: { scope: 'window', windowSeconds: keyWindowSeconds },
            },
            ...(definition.groupKey === null ? {} : { groupKey: definition.groupKey }),
            ...(traceContext === undefined ? {} : { traceContext }),
          },
        );
        ids.push(await insertedId('scheduleTick', () => send<{ id: string }>(statement)));
      }
      await send(advanceScheduleSql(this.names, row.name, next, ticks.at(-1) ?? null));
      return { name: row.name, queue: row.queue, ticks, ids, next };
    });
  }

  /**
   * Ms until the earliest tick of the schedules not in `excluded` (negative: one is due), or
   * null for none.
   */
  async nextScheduleDueInMs(excluded: readonly string[] = []): Promise<number | null> {
    const result = await this.connection.query<{ due_in_ms: number | null }>(
      'nextScheduleDue',
      nextScheduleDueSql(this.names, excluded),
    );
    return result.rows[0]?.due_in_ms ?? null;
  }

  /** What a failure's fenced settle statement did, from the state it returned. */
  private async settleFailure(
    operation: string,
    statement: SqlStatement,
  ): Promise<FailureSettlement> {
    const result = await this.connection.query<{ state: string }>(operation, statement);
    const state = result.rows[0]?.state;
    return state === undefined ? 'lost' : state === 'cancelled' ? 'cancelled' : 'recorded';
  }

  /** A statement that changes at most one row: whether it did. */
  private async settle(operation: string, statement: SqlStatement): Promise<boolean> {
    return (await this.count(operation, statement)) === 1;
  }

  private async count(operation: string, statement: SqlStatement): Promise<number> {
    const result = await this.connection.query(operation, statement);
    return result.rowCount ?? 0;
  }

  /** Runs a bounded statement until it affects fewer rows than a full batch. */
  private async inBatches(
    batchSize: number,
    stopped: () => boolean,
    statement: () => SqlStatement,
  ): Promise<number> {
    let total = 0;
    while (!stopped()) {
      const affected = await this.count('cleanup', statement());
      total += affected;
      if (affected < batchSize) break;
    }
    return total;
  }
}
