import { Inject, Injectable, Optional } from '@nestjs/common';
import { serializeBody } from './body/serialize-body.js';
import {
  assertArray,
  assertKey,
  assertLeaseToken,
  assertMessageId,
  assertMessageState,
  assertOptionsObject,
  assertQueueName,
  assertWholeNumber,
  retentionSeconds,
} from './config/argument-rules.js';
import {
  DEFAULT_RETRY_BATCH,
  DEFAULT_SAMPLE_MINUTES,
  DEFAULT_DONE_RETENTION_DAYS,
  DEFAULT_FAILED_RETENTION_DAYS,
  DEFAULT_LEASE_MAX_BYTES,
  DEFAULT_LIST_LIMIT,
  DEFAULT_MAINTENANCE_BATCH,
  DEFAULT_PROCESSOR_OPTIONS,
  DEFAULT_WAIT_TIMEOUT_MS,
} from './config/defaults.js';
import {
  LIMITS,
  MAX_ENQUEUE_BATCH,
  MAX_ENQUEUE_BATCH_BYTES,
  MAX_LEASE_BATCH,
} from './config/limits.js';
import { type QueueConfig } from './config/queue-config.js';
import { QueueValidationError } from './errors/queue-validation.error.js';
import {
  type LeasedMessage,
  type MessageState,
  type QueueLease,
  type QueueMessage,
} from './interfaces/queue-message.interface.js';
import {
  type CleanupOptions,
  type CleanupResult,
  type EnqueueFlowOptions,
  type EnqueueManyOptions,
  type EnqueueOptions,
  type LeaseOptions,
  type NackOptions,
  type ReapOptions,
} from './interfaces/queue-operation-options.interface.js';
import { type QueueStats } from './interfaces/queue-stats.interface.js';
import { type BlockedGroup } from './interfaces/blocked-group.interface.js';
import { type CancelOptions, type CancelResult } from './interfaces/queue-control.interface.js';
import { type QueueBody } from './interfaces/queue-types.interface.js';
import { type FlowChild, type FlowNode, type FlowTree } from './interfaces/flow.interface.js';
import { flowIds } from './flow/flow-ids.js';
import { flattenFlow } from './flow/flow-tree.js';
import { QUEUE_CONFIG } from './queue.constants.js';
import { ARCHIVE_PARTITIONS_AHEAD } from './config/archive-span.js';
import { QueueEvents } from './events/queue-events.js';
import { type BatchFlow, type EachOrAll, type MessageFlow } from './sql/enqueue.sql.js';
import { type UniqueRule } from './sql/unique.sql.js';
import { MessageStore, type LeasePolicy } from './store/message-store.js';
import {
  type QueueMessageDetail,
  type WaitForOptions,
} from './interfaces/message-detail.interface.js';
import { ResultWaiters } from './workers/result-waiters.js';
import {
  type ScheduleInfo,
  type ScheduleOptions,
} from './interfaces/schedule-options.interface.js';
import { CronSchedule } from './schedule/cron-ticks.js';
import { RecurringScheduler } from './schedule/recurring-scheduler.js';
import { resolveSchedule } from './schedule/schedule-rules.js';
import { tracedSend, tracingLive } from './tracing/queue-tracing.js';
import { type ListSamplesOptions, type QueueSample } from './interfaces/queue-sample.interface.js';
import { type QueueReplica } from './interfaces/queue-replica.interface.js';
import { type RetryFailedInBatchesOptions } from './interfaces/dashboard-data-options.interface.js';

/**
 * The queue: enqueue, lease, ack/nack, and the operator's tools. The TypeScript counterpart of
 * the Python `AsyncPostgresQueue` backend, on the same table.
 *
 * Every method validates its arguments before touching the database (a {@link QueueValidationError}
 * means nothing was written), sends exactly one statement (`cleanup` one per batch), and reports
 * database failures as {@link QueueDatabaseError}.
 */
@Injectable()
export class QueueService {
  // Explicit @Inject everywhere: tools that compile without decorator metadata (esbuild, tsx,
  // vitest) can still wire the module.
  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
    @Inject(QueueEvents) private readonly events: QueueEvents,
    @Inject(ResultWaiters) private readonly waiters: ResultWaiters,
    @Optional() @Inject(RecurringScheduler) private readonly scheduler?: RecurringScheduler,
  ) {}

  /**
   * Adds or replaces the recurring message `name`: each tick of `options.cron` (read in
   * `options.timeZone`) enqueues one message with `options.body` into `options.queue`, exactly
   * once across every replica. Stored in `<table>_schedules`, so it survives restarts and every
   * replica runs it (this one at once, the others when notified, or within 30 s); it stays until
   * {@link unschedule}. Replacing a schedule with the same expression and time zone keeps its
   * next tick; another expression starts from the next tick after now.
   *
   * Each message's `uniqueKey` is `schedule:<name>:<tick epoch seconds>` ({@link scheduledTickOf}
   * reads it back). A schedule declared in code with the same name replaces this one at boot.
   *
   * @throws QueueValidationError naming the field: `name`, `options.cron` (5 fields, or 6 with
   *   seconds first; it must match some date), `options.timeZone` (an IANA zone), `options.body`,
   *   `options.enqueueOptions.*`, `options.missed`.
   */
  async schedule<T = unknown>(name: string, options: ScheduleOptions<T>): Promise<void> {
    const definition = resolveSchedule(
      name,
      options,
      { name: 'name', options: 'options' },
      this.config.maxBodyBytes,
    );
    const cron = new CronSchedule(definition.cron, definition.timeZone);
    await this.store.upsertSchedules([
      {
        definition,
        origin: { source: 'api', owner: null },
        firstTickAfter: (now) => cron.nextAfter(now),
      },
    ]);
    this.scheduler?.wake();
  }

  /**
   * Deletes the recurring message `name`, whoever declared it; no tick of it is enqueued after
   * this resolves (a declared one comes back at the next boot of the application declaring it).
   * Messages it enqueued already stay.
   *
   * @returns whether it existed.
   */
  async unschedule(name: string): Promise<boolean> {
    assertQueueName(name, 'name');
    const existed = await this.store.deleteSchedule(name);
    this.scheduler?.wake();
    return existed;
  }

  /** Every recurring message of the table, by name, with its next and last tick. */
  async listSchedules<T = unknown>(): Promise<ScheduleInfo<T>[]> {
    return this.store.listSchedules<T>();
  }

  /**
   * Enqueues one message of the schedule `name` now, as its ticks do (its queue, body, priority
   * and group), but due at once (its `delaySeconds` is not applied) and without the tick's
   * unique key, so `scheduledTickOf` reads `null` from it. The schedule's next tick does not
   * move. An operator's "run now".
   *
   * @returns the new message's id, or `null` when no schedule has this name.
   */
  async runScheduleNow(name: string): Promise<string | null> {
    assertQueueName(name, 'name');
    return this.store.runScheduleNow(name);
  }

  /**
   * Adds one message to `queue`.
   *
   * With a `uniqueKey` another message of `queue` holds (see `uniqueWhile` and
   * `uniqueWindowSeconds`), nothing is inserted and the holder's id is returned; concurrent
   * calls with one key, from any number of processes, all get the id of the one message
   * inserted.
   *
   * With `options.manager` (a TypeORM `EntityManager` in a transaction), the message is written
   * in that transaction: it exists, and workers hear of it, only once the caller commits.
   *
   * @param body any JSON data (objects, arrays, strings, numbers, booleans, null) up to `maxBodyBytes`;
   *   for a queue declared in {@link QueueTypes}, of its declared body type.
   * @returns the new message's id, or the id of the message that holds its `uniqueKey`.
   */
  async enqueue<T = unknown, Q extends string = string>(
    queue: Q,
    body: QueueBody<Q, T>,
    options?: EnqueueOptions,
  ): Promise<string> {
    assertQueueName(queue);
    const delay = delayOf(options);
    const flow = messageFlowOf(assertOptionsObject(options, 'options'));
    const json = serializeBody(body, 'body', this.config.maxBodyBytes);
    const manager = options?.manager;
    if (tracingLive()) {
      return tracedSend(
        queue,
        1,
        async (traceContext) => {
          const via = manager && (await this.store.through(manager, 'options.manager'));
          return this.store.enqueue(queue, json, delay, withTrace(flow, traceContext), via);
        },
        (id) => [id],
      );
    }
    if (manager === undefined) return this.store.enqueue(queue, json, delay, flow);
    const via = await this.store.through(manager, 'options.manager');
    return this.store.enqueue(queue, json, delay, flow, via);
  }

  /**
   * Adds many messages to `queue` in one statement, all or none.
   *
   * With unique keys, messages of `bodies` with the same key become one (the first), and a
   * message whose key another message of `queue` holds is not inserted: its position gets that
   * message's id. In the rare case where the holder was committed by a concurrent call after
   * the statement began, the positions it concerns are sent again in a second statement of the
   * same transaction, so the batch stays all or none. With `options.manager`, that transaction is
   * the caller's (or one begun on the manager when it has none).
   *
   * @returns the ids, in the order of `bodies`: each message's new id, or with a unique key,
   *   the id of the message that holds it.
   */
  async enqueueMany<T = unknown, Q extends string = string>(
    queue: Q,
    bodies: readonly QueueBody<Q, T>[],
    options?: EnqueueManyOptions<QueueBody<Q, T>>,
  ): Promise<string[]> {
    assertQueueName(queue);
    assertArray(bodies, 'bodies', MAX_ENQUEUE_BATCH);
    const delay = delayOf(options);
    const flow = batchFlowOf(assertOptionsObject(options, 'options'), bodies);
    if (bodies.length === 0) return [];
    const json = new Array<string>(bodies.length);
    let length = 0;
    for (let index = 0; index < bodies.length; index++) {
      json[index] = serializeBody(bodies[index], `bodies[${index}]`, this.config.maxBodyBytes);
      length += json[index]!.length + 1;
    }
    assertBatchBytes(json, length);
    const manager = options?.manager;
    if (tracingLive()) {
      return tracedSend(
        queue,
        json.length,
        async (traceContext) => {
          const via = manager && (await this.store.through(manager, 'options.manager'));
          return this.store.enqueueMany(queue, json, delay, withTrace(flow, traceContext), via);
        },
        (ids) => ids,
      );
    }
    if (manager === undefined) return this.store.enqueueMany(queue, json, delay, flow);
    const via = await this.store.through(manager, 'options.manager');
    return this.store.enqueueMany(queue, json, delay, flow, via);
  }

  /**
   * Adds a flow: a parent message and the children it waits for, nested to any depth (at most
   * 32 levels and 10,000 messages), each on any queue, in one statement: all or none. Every
   * node is checked first (a {@link QueueValidationError} names the path of the field, such as
   * `children[3].children[0].body`, and nothing is written).
   *
   * A node without children is `ready` at once (after its `delaySeconds`). A node with children
   * is `waiting_children`: no worker leases it until its last child has ended, then it becomes
   * due at once; its handler reads its children with `message.children()` or
   * {@link getChildren}. A child that does not end `done` (a dead letter, in place or moved to
   * its dead-letter queue, or cancelled) fails its parent by default; see `onChildFailure`.
   * This lives in the table's triggers, so a flow survives restarts and moves on whoever ends a
   * child (the Python backend's workers, an operator's statement).
   *
   * Unique keys are refused in a flow. With `options.manager`, the flow is written in the
   * caller's transaction (see `EnqueueOptions.manager`).
   *
   * @returns the ids, in the shape of `flow`.
   */
  async enqueueFlow(flow: FlowNode, options?: EnqueueFlowOptions): Promise<FlowTree> {
    const { manager } = assertOptionsObject(options, 'options');
    const flat = flattenFlow(flow, this.config.maxBodyBytes, flowIds);
    const via =
      manager === undefined ? undefined : await this.store.through(manager, 'options.manager');
    // One send span for the whole flow, named for its root's queue.
    await tracedSend(
      flat.tree.queue,
      flat.ids.length,
      (traceContext) => this.store.enqueueFlow(withTrace(flat, traceContext), via),
      () => (flat.ids.length === 1 ? flat.ids : []),
    );
    return flat.tree;
  }

  /**
   * The children of a flow's parent `parentId`, in the order the flow gave them, with each one's
   * `state`, `result` (what its handler returned, or `null`), `lastError` and, for one moved to
   * a dead-letter queue, its `queue` there and `originQueue`. Empty for a message without
   * children, or whose children were deleted (the cleanup deletes `done` ones after its
   * retention, and archives dead letters).
   */
  async getChildren<R = unknown>(parentId: string): Promise<FlowChild<R>[]> {
    assertMessageId(parentId, 'parentId');
    return this.store.children<R>(parentId);
  }

  /**
   * Leases the next due message of `queue`, or returns `null` when none is due. The lease lasts
   * `leaseSeconds`; settle it with {@link ack} or {@link nack} before then.
   */
  async leaseNext<T = unknown>(
    queue: string,
    options?: LeaseOptions,
  ): Promise<LeasedMessage<T> | null> {
    assertQueueName(queue);
    const { messages } = await this.store.lease<T>(
      queue,
      1,
      leasePolicyOf(queue, options),
      DEFAULT_LEASE_MAX_BYTES,
      'leaseNext',
    );
    return messages[0] ?? null;
  }

  /**
   * Leases up to `limit` due messages of `queue` at once, oldest due first. One call returns at
   * most 64 MiB of bodies (as stored) beyond its first message, so it may return fewer than
   * `limit` while more are due.
   */
  async leaseMany<T = unknown>(
    queue: string,
    limit: number,
    options?: LeaseOptions,
  ): Promise<LeasedMessage<T>[]> {
    assertQueueName(queue);
    assertWholeNumber(limit, 'limit', LIMITS.batch);
    const { messages } = await this.store.lease<T>(
      queue,
      limit,
      leasePolicyOf(queue, options),
      DEFAULT_LEASE_MAX_BYTES,
      'leaseMany',
    );
    return messages;
  }

  /**
   * Marks a leased message `done`.
   *
   * @param lease the leased message (or its `id` and `leaseToken`): the ack is fenced, it changes
   *   the message only while the caller's own lease holds it. Or the message's id alone, as the
   *   Python backend's `ack(queue, id)` takes it: **not fenced**, it settles whatever lease the
   *   message holds now, even one another worker took after the caller's expired. Either way only
   *   a `leased` message is acked; prefer the message where you have it.
   * @returns `false` when the lease is no longer the caller's (it expired and was reaped or taken
   *   by another worker), or, by id, the message is not leased; or it is not in `queue`. Nothing
   *   changes then.
   */
  async ack(queue: string, lease: QueueLease | string): Promise<boolean> {
    assertQueueName(queue);
    return this.store.ack({ queue, ...leaseOf(lease) });
  }

  /**
   * Acks many leased messages of `queue` in one statement, each fenced by its own token.
   *
   * @returns the ids that were acked; a lease missing from it was no longer the caller's.
   */
  async ackMany(queue: string, leases: readonly QueueLease[]): Promise<string[]> {
    assertQueueName(queue);
    const checked = assertArray(leases, 'leases', MAX_LEASE_BATCH).map((lease) =>
      fencedLeaseOf(lease),
    );
    if (checked.length === 0) return [];
    return this.store.ackMany(queue, checked);
  }

  /**
   * Gives a leased message back: it becomes due again after `requeueDelaySeconds`. The attempt it
   * used stays counted.
   *
   * @param lease the leased message (or its `id` and `leaseToken`), fenced as for {@link ack};
   *   or its id alone, as the Python backend's `nack(queue, id)`: **not fenced**, it gives back
   *   whatever lease the message holds now (only a `leased` message).
   * @returns `false` when the lease is no longer the caller's (by id: the message is not leased);
   *   nothing changes then.
   */
  async nack(queue: string, lease: QueueLease | string, options?: NackOptions): Promise<boolean> {
    assertQueueName(queue);
    const checked = leaseOf(lease);
    const { requeueDelaySeconds = 0 } = assertOptionsObject(options, 'options');
    assertWholeNumber(requeueDelaySeconds, 'requeueDelaySeconds', LIMITS.delaySeconds);
    return this.store.nack({ queue, ...checked }, requeueDelaySeconds);
  }

  /**
   * Returns leased messages whose lease ran out to `ready`, at most `limit` per call; one whose
   * lease was its last allowed attempt (see `LeaseOptions.maxAttempts`) becomes a dead letter.
   * Safe to run from many replicas at once. The module's scheduled reaper does the same.
   *
   * @returns how many expired leases were settled.
   */
  async reapExpiredLeases(options?: ReapOptions): Promise<number> {
    const { limit = DEFAULT_MAINTENANCE_BATCH } = assertOptionsObject(options, 'options');
    assertWholeNumber(limit, 'limit', LIMITS.maintenanceBatch);
    const outcomes = await this.store.reapExpiredLeases(limit);
    this.events.reaped(outcomes);
    return outcomes.reduce((total, outcome) => total + outcome.count, 0);
  }

  /**
   * Deletes old `done` messages and archives old dead letters into `<table>_archive`, in batches
   * of `batchSize` rows per statement (each its own short transaction), until none are left. The
   * module's scheduled cleanup does the same; operators may call it too. Safe on many replicas.
   * With `archiveRetentionDays` it first keeps the archive's partitions (see `CleanupOptions`).
   */
  async cleanup(options?: CleanupOptions): Promise<CleanupResult> {
    const {
      doneRetentionDays = DEFAULT_DONE_RETENTION_DAYS,
      failedRetentionDays = DEFAULT_FAILED_RETENTION_DAYS,
      batchSize = DEFAULT_MAINTENANCE_BATCH,
      archiveRetentionDays,
    } = assertOptionsObject(options, 'options');
    assertWholeNumber(batchSize, 'batchSize', LIMITS.maintenanceBatch);
    const plan = {
      doneRetentionSeconds: retentionSeconds(doneRetentionDays, 'doneRetentionDays'),
      failedRetentionSeconds: retentionSeconds(failedRetentionDays, 'failedRetentionDays'),
      batchSize,
    };
    if (archiveRetentionDays === undefined) return this.store.cleanup(plan);
    const keep = retentionSeconds(archiveRetentionDays, 'archiveRetentionDays');
    // Partitions first, so that the rows archived below find theirs.
    const archivePartitions = await this.store.maintainArchivePartitions(
      ARCHIVE_PARTITIONS_AHEAD,
      keep,
    );
    return { ...(await this.store.cleanup(plan)), archivePartitions };
  }

  /**
   * Message counts in total, per state and per queue and state (the Python backend's
   * `get_stats`), with ready messages split into due and delayed (`ready`, `readyByQueue`).
   *
   * @param queue counts this queue's messages only: the same shape, with at most this queue in
   *   `byQueue`. Its `failedMessages` counts the dead letters `listFailed(queue)` lists that are
   *   not dealt with yet: `failed` here, and those moved into it, or out of it to its dead-letter
   *   queue, that are not yet done.
   */
  async getStats(queue?: string): Promise<QueueStats> {
    if (queue !== undefined) assertQueueName(queue);
    return this.store.stats(queue);
  }

  /**
   * The dead letters of `queue`, oldest first, each with its `lastError` and `state`. `queue` may
   * be the queue where messages failed or a dead-letter queue:
   *
   * - messages that failed in `queue` (state `failed`);
   * - messages `queue`'s processor moved to its `deadLetterQueue` (`originQueue` is `queue`),
   *   whatever their state there: `done` once the dead-letter queue's processor handled them;
   * - when `queue` is a dead-letter queue, the messages moved into it (`originQueue` is where
   *   they failed), whatever their state.
   *
   * So `listFailed('ingest.main')` and `listFailed('ingest.error')` both list a message that
   * failed in `ingest.main` and was moved to `ingest.error`. {@link retryFailed} takes the same
   * messages.
   */
  async listFailed<T = unknown>(
    queue: string,
    options?: { readonly limit?: number },
  ): Promise<QueueMessage<T>[]> {
    assertQueueName(queue);
    const { limit = DEFAULT_LIST_LIMIT } = assertOptionsObject(options, 'options');
    assertWholeNumber(limit, 'limit', LIMITS.batch);
    return this.store.listFailed<T>(queue, limit);
  }

  /**
   * The groups of `queue` that a processor with `groupConcurrency: 1` cannot take its next
   * message from, in key order, with the reason: a dead letter in place (until it is retried,
   * deleted, or the group released with {@link releaseGroup}), or an oldest message that is not
   * due yet (a retry's backoff: the group goes on by itself when it is due). An operator's tool:
   * it reads every grouped message of the queue.
   */
  async listBlockedGroups(queue: string, limit?: number): Promise<BlockedGroup[]> {
    assertQueueName(queue);
    const max =
      limit === undefined ? DEFAULT_LIST_LIMIT : assertWholeNumber(limit, 'limit', LIMITS.batch);
    return this.store.blockedGroups(queue, max);
  }

  /**
   * Lets an ordered group go on past its dead letters: they stay dead letters (listed by
   * {@link listFailed}, retried by {@link retryFailed}, then outside any group), but no longer
   * hold the group back; the key they had is kept in their `lastError` as `releasedFromGroup`.
   *
   * @returns how many dead letters left the group.
   */
  async releaseGroup(queue: string, groupKey: string): Promise<number> {
    assertQueueName(queue);
    assertKey(groupKey, 'groupKey');
    return this.store.releaseGroup(queue, groupKey);
  }

  /**
   * Puts the dead letters {@link listFailed} lists for `queue` back where they failed, due now
   * with fresh attempts: all of them, or only those in `ids`. Asked by the queue where they
   * failed, they come back to it, from its dead-letter queue too; asked by a dead-letter queue's
   * name, the messages moved into it go back to their `originQueue`, and those that failed in
   * the dead-letter queue itself become ready there again (keeping their `originQueue`). A dead
   * letter a processor holds right now (`leased`) is left alone.
   *
   * So is a dead letter whose `uniqueKey` another message of the queue it would go back to holds
   * now (one enqueued with that key while it was dead): it stays a dead letter, listed by
   * {@link listFailed}, until that key is free, instead of failing the whole call. Of several
   * dead letters sharing a key, the one enqueued first is put back.
   *
   * @returns how many were put back.
   */
  async retryFailed(queue: string, ids?: readonly string[]): Promise<number> {
    assertQueueName(queue);
    if (ids !== undefined) {
      assertArray(ids, 'ids', MAX_LEASE_BATCH).forEach((id, index) =>
        assertMessageId(id, `ids[${index}]`),
      );
      if (ids.length === 0) return 0;
    }
    return this.store.retryFailed(queue, ids);
  }

  /**
   * Puts back every dead letter of `queue` as {@link retryFailed} does (the same messages, the
   * same destinations), in batches of `batchSize`, each one short statement that skips rows
   * locked elsewhere instead of waiting, so that no lock is held for long however many there
   * are; `onBatch` hears the running total after each batch (a progress bar). Dead letters are
   * walked in id order, once: one that another transaction held while its batch passed is tried
   * once more at the end, and stays a dead letter if it is still held; one that fails while the
   * run is past its id is left for the next retry. The batches before a failure stay retried.
   *
   * @returns how many were put back.
   * @throws QueueValidationError naming `queue`, `options`, `options.batchSize` (1 to 10,000) or
   *   `options.onBatch` (a function).
   */
  async retryFailedInBatches(
    queue: string,
    options?: RetryFailedInBatchesOptions,
  ): Promise<number> {
    assertQueueName(queue);
    const { batchSize = DEFAULT_RETRY_BATCH, onBatch } = assertOptionsObject(options, 'options');
    assertWholeNumber(batchSize, 'options.batchSize', LIMITS.retryBatch);
    if (onBatch !== undefined && typeof onBatch !== 'function') {
      throw new QueueValidationError('options.onBatch', 'must be a function');
    }
    let total = 0;
    let after: string | null = null;
    const skipped: string[] = [];
    for (;;) {
      const batch = await this.store.retryFailedBatch(queue, { after, limit: batchSize });
      if (batch.seen === 0) break;
      total += batch.retried;
      skipped.push(...batch.skipped);
      onBatch?.(total);
      if (batch.seen < batchSize || batch.last === null) break;
      after = batch.last;
    }
    for (let start = 0; start < skipped.length; start += batchSize) {
      const ids = skipped.slice(start, start + batchSize);
      const batch = await this.store.retryFailedBatch(queue, { ids });
      if (batch.retried === 0) continue;
      total += batch.retried;
      onBatch?.(total);
    }
    return total;
  }

  /**
   * The per-minute samples of the queues (see the `samples` module option), oldest minute first,
   * then by queue: each queue's counts by state at the end of the minute, and how many messages
   * were enqueued and ended during it. A minute no replica sampled (all down) has no rows.
   *
   * @throws QueueValidationError naming `options`, `options.queue` or `options.sinceMinutes`
   *   (1 to 10,080).
   */
  async listSamples(options?: ListSamplesOptions): Promise<QueueSample[]> {
    const { queue, sinceMinutes = DEFAULT_SAMPLE_MINUTES } = assertOptionsObject(
      options,
      'options',
    );
    if (queue !== undefined) assertQueueName(queue, 'options.queue');
    assertWholeNumber(sinceMinutes, 'options.sinceMinutes', LIMITS.sampleMinutes);
    return this.store.listSamples(sinceMinutes, queue);
  }

  /**
   * The processes running this module on this table (see the `heartbeat` module option) that
   * were heard of within their last three heartbeat intervals, by application name, host name
   * and pid, each with its processors as of its last heartbeat.
   */
  async listReplicas(): Promise<QueueReplica[]> {
    return this.store.listReplicas();
  }

  /**
   * Deletes the messages of `queue`, or only those in `state`.
   *
   * @returns how many were deleted.
   */
  async clearQueue(queue: string, state?: MessageState): Promise<number> {
    assertQueueName(queue);
    if (state !== undefined) assertMessageState(state);
    return this.store.clearQueue(queue, state);
  }

  /**
   * One message by id, whatever its queue or state, with what its handler left behind: `result`
   * (its return value, stored when it was acked) and `progress` (the last `message.progress()`
   * value). @returns `null` when no message has this id (never enqueued, deleted, or cleaned up).
   */
  async getMessage<T = unknown, R = unknown>(id: string): Promise<QueueMessageDetail<T, R> | null> {
    assertMessageId(id);
    return this.store.getMessage<T, R>(id);
  }

  /**
   * Waits for message `id` to end, whichever process (or the Python backend) handles it.
   *
   * @returns its handler's result once it is `done` (`null` when the handler returned
   *   `undefined`, or the Python backend acked it); at once if it is done already.
   * @throws {@link MessageFailedError} when it became a dead letter (its `lastError` attached),
   *   {@link MessageCancelledError} when it was cancelled, {@link MessageDeletedError} when it
   *   does not exist or was deleted, {@link WaitTimeoutError} after `timeoutMs` (default 60 s).
   *
   * NOTIFY-driven: the message is marked awaited, and the database notifies its end on the
   * table's finished channel, which one connection per process LISTENs on while anyone waits.
   * With `listen: false`, the pending waits are read every `pollIntervalMs` instead.
   */
  async waitFor<R = unknown>(id: string, options?: WaitForOptions): Promise<R> {
    assertMessageId(id);
    const { timeoutMs = DEFAULT_WAIT_TIMEOUT_MS } = assertOptionsObject(options, 'options');
    assertWholeNumber(timeoutMs, 'timeoutMs', LIMITS.waitTimeoutMs);
    return this.waiters.waitFor<R>(id, timeoutMs);
  }

  /** Deletes one message whatever its state. @returns whether it existed. */
  async deleteMessage(id: string): Promise<boolean> {
    assertMessageId(id);
    return this.store.deleteMessage(id);
  }

  /**
   * Pauses `queue` for every replica (BullMQ's `queue.pause()`): stored in `<table>_queues`, so
   * it holds across restarts until {@link resume}. Once this resolves, no lease statement hands
   * out a message of `queue` (processors', `leaseNext` and `leaseMany` alike); every worker
   * process hears of it within milliseconds (NOTIFY) or a second (its poll), gives back the
   * messages it leased ahead, and lets running handlers finish. `ProcessorRegistry.pause` is the
   * per-process pause; a worker fetches only while neither is set. The queue needs no processor
   * in this process.
   */
  async pause(queue: string): Promise<void> {
    assertQueueName(queue);
    await this.store.setQueuePaused(queue, true);
  }

  /** Resumes `queue` for every replica after {@link pause}; its workers start leasing at once. */
  async resume(queue: string): Promise<void> {
    assertQueueName(queue);
    await this.store.setQueuePaused(queue, false);
  }

  /** Whether `queue` is paused for every replica ({@link pause}); not the per-process pause. */
  async isPaused(queue: string): Promise<boolean> {
    assertQueueName(queue);
    return this.store.queuePaused(queue);
  }

  /**
   * Cancels one message, whatever its queue (or only in `options.queue`):
   *
   * - waiting (`ready`, delayed or not, or a flow's parent `waiting_children`): it becomes
   *   `cancelled` at once and never starts (`'cancelled'`);
   * - held by a worker (`leased`): the cancel is recorded and the workers are told (`'requested'`).
   *   The one holding it aborts the handler's `signal` with a `MessageCancelledError` and
   *   settles the message `cancelled` without waiting for a handler that ignores the signal, or
   *   drops it unstarted from its prefetch buffer; it hears within milliseconds (NOTIFY), or at
   *   its next heartbeat (half of `leaseSeconds`) without it. If that worker died, the reaper
   *   settles the message `cancelled` when its lease expires.
   * - `done`, `failed` or `cancelled` already: nothing changes (`'finished'`).
   *
   * A cancelled message is not a failure: it is never retried, nothing is written to its
   * `lastError`, and the attempt it used stays counted. The race: a handler that finished before
   * its worker heard of the cancel ends `done`; one that failed then ends `cancelled` (a cancel
   * request turns any retry, nack, snooze or dead letter into `cancelled`). A consumer of
   * `leaseNext` hears of no cancel; its `ack` still makes the message `done`, its `nack`
   * `cancelled`. Cancelled messages are deleted by the cleanup like `done` ones.
   *
   * In a flow, the cancel takes the message's descendants that have not ended with it (in the
   * same statement): waiting ones are cancelled, running ones asked to cancel as above. Its
   * parent, if it has one, hears of a cancelled child (see `onChildFailure`).
   */
  async cancel(id: string, options?: CancelOptions): Promise<CancelResult> {
    assertMessageId(id);
    const { queue } = assertOptionsObject(options, 'options');
    if (queue !== undefined) assertQueueName(queue);
    const cancelled = await this.store.cancel(id, queue);
    if (cancelled.result === 'cancelled' && cancelled.queue !== null) {
      this.events.metrics?.forQueue(cancelled.queue).cancelled('waiting');
    }
    // A waiting message is settled here, by this call: its event is heard in this process.
    if (
      cancelled.result === 'cancelled' &&
      cancelled.queue !== null &&
      this.events.hears('cancelled', cancelled.queue)
    ) {
      this.events.emit('cancelled', { id, queue: cancelled.queue, when: 'waiting' });
    }
    return cancelled.result;
  }
}

/**
 * The batch travels as one JSON array; `length` counts its UTF-16 code units, and a UTF-8 byte
 * takes at least one and at most three of them, so the exact count is needed near the limit only.
 */
function assertBatchBytes(json: readonly string[], length: number): void {
  if (length <= MAX_ENQUEUE_BATCH_BYTES / 3) return;
  let bytes = 0;
  for (const body of json) bytes += Buffer.byteLength(body, 'utf8') + 1;
  if (bytes > MAX_ENQUEUE_BATCH_BYTES) {
    throw new QueueValidationError(
      'bodies',
      `must be at most ${MAX_ENQUEUE_BATCH_BYTES} bytes of JSON in all (got ${bytes}); split it into several calls`,
    );
  }
}

const UNIQUE_WHILE = { active: 'active', activeOrFailed: 'active_or_failed' } as const;

/** The key rule of `uniqueWhile` or `uniqueWindowSeconds`; `keyed`: a `uniqueKey` was given. */
function uniqueRuleOf(options: EnqueueManyOptions<never>, keyed: boolean): UniqueRule | undefined {
  const { uniqueWhile, uniqueWindowSeconds } = options;
  if (uniqueWhile !== undefined && !Object.hasOwn(UNIQUE_WHILE, uniqueWhile)) {
    throw new QueueValidationError('options.uniqueWhile', "must be 'active' or 'activeOrFailed'");
  }
  if (uniqueWindowSeconds !== undefined) {
    assertWholeNumber(
      uniqueWindowSeconds,
      'options.uniqueWindowSeconds',
      LIMITS.uniqueWindowSeconds,
    );
    if (uniqueWhile !== undefined) {
      throw new QueueValidationError(
        'options.uniqueWindowSeconds',
        'must not be given with uniqueWhile: a window holds the key whatever the state',
      );
    }
  }
  const given =
    uniqueWindowSeconds !== undefined
      ? 'options.uniqueWindowSeconds'
      : uniqueWhile !== undefined
        ? 'options.uniqueWhile'
        : undefined;
  if (given !== undefined && !keyed) {
    throw new QueueValidationError(given, 'needs options.uniqueKey');
  }
  if (!keyed) return undefined;
  return uniqueWindowSeconds !== undefined
    ? { scope: 'window', windowSeconds: uniqueWindowSeconds }
    : { scope: UNIQUE_WHILE[uniqueWhile ?? 'active'] };
}

function assertPriority(value: unknown, field: string): number {
  return assertWholeNumber(value, field, LIMITS.priority);
}

/** `flow` with the trace context to store, when there is one. */
function withTrace<F extends object>(flow: F, traceContext: string | undefined): F;
function withTrace<F extends object>(
  flow: F | undefined,
  traceContext: string | undefined,
): F | undefined;
function withTrace<F extends object>(
  flow: F | undefined,
  traceContext: string | undefined,
): F | undefined {
  if (traceContext === undefined) return flow;
  return { ...flow, traceContext } as F;
}

/** One message's flow control, checked; undefined when it uses none (the hot path). */
function messageFlowOf(options: EnqueueOptions): MessageFlow | undefined {
  const { priority, uniqueKey, groupKey } = options;
  if (priority !== undefined) assertPriority(priority, 'options.priority');
  if (uniqueKey !== undefined) assertKey(uniqueKey, 'options.uniqueKey');
  if (groupKey !== undefined) assertKey(groupKey, 'options.groupKey');
  const rule = uniqueRuleOf(options, uniqueKey !== undefined);
  if (!priority && rule === undefined && groupKey === undefined) return undefined;
  return {
    ...(priority ? { priority } : {}),
    ...(rule === undefined || uniqueKey === undefined ? {} : { unique: { key: uniqueKey, rule } }),
    ...(groupKey === undefined ? {} : { groupKey }),
  };
}

/**
 * A batch's flow control, checked; each per-message option called once per body, its result
 * named by the body's index. Undefined when no message uses any (the hot path's statement).
 */
function batchFlowOf<T>(
  options: EnqueueManyOptions<T>,
  bodies: readonly T[],
): BatchFlow | undefined {
  const priority = perMessage(options.priority, bodies, 'options.priority', assertPriority);
  const key = perMessage(options.uniqueKey, bodies, 'options.uniqueKey', assertKey);
  const groupKey = perMessage(options.groupKey, bodies, 'options.groupKey', assertKey);
  const rule = uniqueRuleOf(options, options.uniqueKey !== undefined);
  const usedPriority = usedOf(priority, (value) => value !== 0);
  const usedKey = usedOf(key, () => true);
  const usedGroup = usedOf(groupKey, () => true);
  if (usedPriority === undefined && usedKey === undefined && usedGroup === undefined) {
    return undefined;
  }
  return {
    ...(usedPriority === undefined ? {} : { priority: usedPriority }),
    ...(usedKey === undefined || rule === undefined ? {} : { unique: { key: usedKey, rule } }),
    ...(usedGroup === undefined ? {} : { groupKey: usedGroup }),
  };
}

/** The option's value, checked: one for all, or one per body from its function. */
function perMessage<T, V extends string | number>(
  option: V | ((body: T, index: number) => V | undefined) | undefined,
  bodies: readonly T[],
  field: string,
  check: (value: unknown, field: string) => V,
): EachOrAll<V> | undefined {
  if (option === undefined) return undefined;
  if (typeof option !== 'function') return check(option, field);
  const values = new Array<V | null>(bodies.length);
  for (let index = 0; index < bodies.length; index++) {
    const value = option(bodies[index]!, index);
    values[index] = value === undefined ? null : check(value, `${field}(bodies[${index}])`);
  }
  return values;
}

/** `value` unless no message uses it (none set, or only to its default). */
function usedOf<V>(
  value: EachOrAll<V> | undefined,
  used: (value: V) => boolean,
): EachOrAll<V> | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) return used(value as V) ? value : undefined;
  return (value as readonly (V | null)[]).some((each) => each !== null && used(each))
    ? value
    : undefined;
}

function delayOf(options: EnqueueManyOptions<never> | undefined): number {
  const { delaySeconds = 0 } = assertOptionsObject(options, 'options');
  return assertWholeNumber(delaySeconds, 'delaySeconds', LIMITS.delaySeconds);
}

function leasePolicyOf(queue: string, options: LeaseOptions | undefined): LeasePolicy {
  const {
    leaseSeconds = DEFAULT_PROCESSOR_OPTIONS.leaseSeconds,
    maxAttempts,
    deadLetterQueue,
  } = assertOptionsObject(options, 'options');
  assertWholeNumber(leaseSeconds, 'leaseSeconds', LIMITS.leaseSeconds);
  if (maxAttempts !== undefined) assertWholeNumber(maxAttempts, 'maxAttempts', LIMITS.maxAttempts);
  if (deadLetterQueue !== undefined) {
    assertQueueName(deadLetterQueue, 'deadLetterQueue');
    if (deadLetterQueue === queue) {
      throw new QueueValidationError('deadLetterQueue', 'must differ from the queue itself');
    }
  }
  return {
    leaseSeconds,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
    ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
  };
}

/** A fenced lease (id and token), or a bare id for the Python backend's unfenced settle. */
function leaseOf(lease: QueueLease | string): QueueLease | { readonly id: string } {
  if (typeof lease === 'string') return { id: assertMessageId(lease) };
  if (lease === null || typeof lease !== 'object') {
    throw new QueueValidationError(
      'lease',
      'must be the leased message (or an object with its id and leaseToken), or a message id',
    );
  }
  return fencedLeaseOf(lease);
}

/** The leased message, or its id and token; `ackMany` takes nothing else. */
function fencedLeaseOf(lease: QueueLease): QueueLease {
  if (lease === null || typeof lease !== 'object') {
    throw new QueueValidationError(
      'lease',
      'must be the leased message (or an object with its id and leaseToken)',
    );
  }
  return { id: assertMessageId(lease.id), leaseToken: assertLeaseToken(lease.leaseToken) };
}
