import { type EntityManager } from 'typeorm';

/**
 * How long a message holds its `uniqueKey`: `'active'` while it is ready or leased (also while
 * it waits for its delay or for a retry), `'activeOrFailed'` also while it is a dead letter in
 * its queue (not once moved to a `deadLetterQueue`, nor once `done` or cancelled).
 */
export type UniqueWhile = 'active' | 'activeOrFailed';

/** Options of `enqueue`. */
export interface EnqueueOptions {
  /** Seconds before the message becomes due; a whole number, default 0 (due at once). */
  readonly delaySeconds?: number;
  /**
   * A whole number from 0 to 1,000,000; higher first, as in pg-boss. Default 0, the lowest:
   * messages enqueued without one, and every message the Python backend inserts, have 0. A
   * message is leased before every due message of lower priority, however long they waited: a
   * steady stream of high priorities starves the low ones, and that is the caller's choice.
   */
  readonly priority?: number;
  /**
   * At most one message of the queue holds this key at a time (1 to 255 characters, no control
   * characters). While one does, enqueueing another with the same key inserts nothing and
   * returns the id of the one that holds it. How long it holds the key: `uniqueWhile`, or one
   * window of `uniqueWindowSeconds`. Concurrent enqueues of one key, from any number of
   * processes, all get the same id: the database's unique index decides.
   */
  readonly uniqueKey?: string;
  /** How long a message holds its `uniqueKey`; default `'active'`. Needs `uniqueKey`. */
  readonly uniqueWhile?: UniqueWhile;
  /**
   * Instead of `uniqueWhile`: one message per `uniqueKey` per window of this many seconds,
   * whatever its state (pg-boss' `singletonSeconds`). Windows are aligned to the epoch on the
   * database's clock: with 60, one message per key per clock minute. A whole number from 1 to
   * 2,147,483,647. Needs `uniqueKey`; not with `uniqueWhile`.
   */
  readonly uniqueWindowSeconds?: number;
  /**
   * The message's group (1 to 255 characters, no control characters). A processor with
   * `groupConcurrency` leases at most that many messages of one group at a time.
   */
  readonly groupKey?: string;
  /**
   * Writes the message in the caller's transaction: the `manager` of
   * `dataSource.transaction(async (manager) => …)`, or `queryRunner.manager` of a QueryRunner
   * whose transaction has started. The message exists only if that transaction commits, and
   * workers are woken at its commit, not before; a rollback leaves nothing and wakes nobody.
   *
   * It must be a postgres manager reaching the queue's own database (the module's own pool, or
   * the application's DataSource it runs on); another database or server is refused with a
   * `QueueValidationError` on `options.manager` before anything is written (checked once per
   * DataSource). A manager without a transaction sends the statement alone. A statement that
   * fails inside the caller's transaction aborts it, as any failed statement does in PostgreSQL.
   */
  readonly manager?: EntityManager;
}

/** Options of `enqueueFlow`, for the whole flow. */
export interface EnqueueFlowOptions {
  /**
   * Writes the whole flow in the caller's transaction, as `EnqueueOptions.manager` does for one
   * message: it exists only if that transaction commits.
   */
  readonly manager?: EntityManager;
}

/**
 * An option of `enqueueMany` that may differ per message: one value for every message, or a
 * function that gives each message's (`undefined`: none for that message).
 */
export type PerMessage<T, V> = V | ((body: T, index: number) => V | undefined);

/**
 * Options of `enqueueMany`: those of `enqueue`, where `priority`, `uniqueKey` and `groupKey` may
 * be given per message by a function of the body and its index in `bodies`.
 */
export interface EnqueueManyOptions<T = unknown> extends Omit<
  EnqueueOptions,
  'priority' | 'uniqueKey' | 'groupKey'
> {
  /** See `EnqueueOptions.priority`. */
  readonly priority?: PerMessage<T, number>;
  /**
   * See `EnqueueOptions.uniqueKey`. Messages of the batch with the same key become one (the
   * first); every position of the returned ids gets the id its message ended up with.
   */
  readonly uniqueKey?: PerMessage<T, string>;
  /** See `EnqueueOptions.groupKey`. */
  readonly groupKey?: PerMessage<T, string>;
}

/** Options of `leaseNext` and `leaseMany`. */
export interface LeaseOptions {
  /** How long the lease lasts before the reaper may hand the message to someone else; default 60. */
  readonly leaseSeconds?: number;
  /**
   * When this lease expires and it was attempt `maxAttempts` or later, the reaper dead-letters the
   * message instead of returning it to `ready`. Default: never (the Python backend's behaviour).
   */
  readonly maxAttempts?: number;
  /** Where the reaper moves such a message; default: it stays, `failed`, in its queue. */
  readonly deadLetterQueue?: string;
}

/** Options of `nack`. */
export interface NackOptions {
  /** Seconds before the message is due again; default 0. */
  readonly requeueDelaySeconds?: number;
}

/** Options of `reapExpiredLeases`. */
export interface ReapOptions {
  /** Most leases returned to `ready` by this call; default 10,000. */
  readonly limit?: number;
}

/** Options of `cleanup`. A retention of `false` skips that part. */
export interface CleanupOptions {
  /** Delete `done` messages created more than this many days ago. Default 7, as the Python backend's guide. */
  readonly doneRetentionDays?: number | false;
  /** Archive dead letters created more than this many days ago into `<table>_archive`. Default 30. */
  readonly failedRetentionDays?: number | false;
  /**
   * Given, the cleanup also keeps the archive's weekly partitions: it creates those of the
   * coming weeks and drops those whose every row was archived more than this many days ago
   * (none with `false`). Absent, the archive's partitions are left alone.
   */
  readonly archiveRetentionDays?: number | false;
  /** Rows per statement, so no statement holds locks for long. Default 10,000. */
  readonly batchSize?: number;
}

/** What a cleanup did. */
export interface CleanupResult {
  /** `done` messages deleted. */
  readonly deleted: number;
  /** Dead letters moved to the archive. */
  readonly archived: number;
  /** What the archive's partition keeper did, when the cleanup ran it. */
  readonly archivePartitions?: ArchivePartitionsResult;
}

/** What one run of the archive's partition keeper did. */
export interface ArchivePartitionsResult {
  /** Partitions created (the coming weeks', or a week's whose rows sat in the default partition). */
  readonly created: readonly string[];
  /** Partitions dropped, with their rows, by the archive retention. */
  readonly dropped: readonly string[];
  /** Rows moved from the default partition into a partition just created. */
  readonly moved: number;
}
