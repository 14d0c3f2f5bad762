/** How long a failed message waits before its next attempt. */
export type BackoffOptions =
  | {
      /** `baseSeconds × 2^(attempt − 1)`, capped at `maxSeconds`, then jittered into its upper half. */
      readonly type: 'exponential';
      /** Default 5. */
      readonly baseSeconds?: number;
      /** Default 3600. */
      readonly maxSeconds?: number;
      /** Default true: spreads retries of messages that failed together. */
      readonly jitter?: boolean;
    }
  | {
      readonly type: 'fixed';
      readonly delaySeconds: number;
    };

/** A limit on how many messages start per window of time, across every replica. */
export interface RateLimitOptions {
  /** Messages started (leased) per window at most. */
  readonly max: number;
  /** The window's length, in seconds; a sliding window, not aligned to the clock. */
  readonly perSeconds: number;
  /**
   * `'queue'` (default): `max` for the whole queue. `'group'`: `max` for each `groupKey` (messages
   * without one share the queue's limit).
   */
  readonly scope?: 'queue' | 'group';
}

/** A class-validator DTO class for message bodies. */
export type BodyClass<TBody> = new (...args: never[]) => TBody;

/** Options of one `@Processor`. Unset ones come from `processorDefaults`, then the defaults below. */
export interface ProcessorOptions<TBody = unknown> {
  /** Handlers of this queue running at once in this process. Default 1. */
  readonly concurrency?: number;
  /**
   * Messages leased ahead of free slots and kept in a local buffer, so short handlers never wait
   * for a round trip; the buffer is refilled in one statement when half used. Buffered messages
   * hold leases (extended like running ones, given back with their attempt refunded at pause or
   * shutdown).
   *
   * Default `'auto'`: about one second of work at the handlers' measured speed, at most 1,000
   * messages. Slow handlers thus lease only their free slots, and fast ones lease in big batches,
   * which keeps a busy queue draining even when each lease statement is slow (a pinned
   * xmin horizon). A number (0–9,000) fixes it; 0 leases free slots only.
   *
   * With `globalConcurrency`, `groupConcurrency` or `rateLimit` it is 0, and may only be set to 0:
   * a message waiting in a buffer holds a lease, which would count against those limits.
   */
  readonly prefetch?: number | 'auto';
  /**
   * Body bytes (as stored) the prefetch buffer may hold, beyond one message: a lease is cut short
   * at this budget. Default 16 MiB (1 KiB to 1 GiB).
   */
  readonly prefetchBytes?: number;
  /** Lease length; a running handler extends it at half-time. Default 60. */
  readonly leaseSeconds?: number;
  /** Attempts before the message becomes a dead letter. Default 5. */
  readonly maxAttempts?: number;
  /**
   * Longest a handler may run, in milliseconds. Past it, `message.signal` is aborted with a
   * `HandlerTimeoutError`, the attempt counts as failed (retry after the backoff, or a dead
   * letter on the last attempt) and the slot frees, even if the handler ignores its signal.
   * Default: no limit (the lease is extended for as long as the handler runs).
   */
  readonly timeoutMs?: number;
  /** Delay before a retry. Default exponential, base 5 s, max 1 h, jittered. */
  readonly backoff?: BackoffOptions;
  /**
   * A class-validator DTO: the body is transformed (class-transformer) and validated before the
   * handler sees it. A body that fails is a poison message: dead-lettered at once, no retries.
   */
  readonly body?: BodyClass<TBody>;
  /**
   * Queue that exhausted messages move to (due at once, fresh attempts), for another processor
   * to handle. Default: none, they stay in their queue with state `failed`.
   */
  readonly deadLetterQueue?: string;
  /**
   * At most this many messages of the queue leased at once across every replica (every process
   * running a processor for the queue with this option), counted in the database under a lock,
   * so it is never exceeded, not even briefly. Default: no limit beyond each process's
   * `concurrency`.
   */
  readonly globalConcurrency?: number;
  /**
   * At most this many messages of one `groupKey` leased at once across every replica. With 1, a
   * group is processed strictly in enqueue order: its next message is leased only once the
   * previous one is done, and a message waiting for a retry, or a dead letter, holds its group
   * back (see `listBlockedGroups`, `releaseGroup`). Groups take turns, so one busy group never
   * delays the others. Default: groups are not limited.
   */
  readonly groupConcurrency?: number;
  /** At most `max` messages started per `perSeconds` across every replica; the rest wait. */
  readonly rateLimit?: RateLimitOptions;
  /**
   * Allows more than one handler on this queue in this process; each message goes to one of them.
   * Without it, a second handler for the same queue is a wiring error.
   */
  readonly shareQueue?: boolean;
  /**
   * Runs each handler in a database transaction and commits the message's ack in it: the handler
   * gets `message.manager` (see `TransactionalMessage`), a TypeORM `EntityManager` on one
   * connection of the module's DataSource, in a transaction begun before the handler runs. When
   * the handler resolves, the ack (fenced by the lease) is sent in that transaction, then
   * COMMIT: its writes and the message's `done` commit together, or neither does.
   *
   * Nothing of the handler is kept when it throws (rolled back, then retried or dead-lettered as
   * usual), when it times out or its message is cancelled, or when its lease was lost (the ack
   * matches no row: another worker may have the message now). Each running handler holds one
   * pooled connection: the transactional processors' `concurrency` in one process may total at
   * most the pool's size minus 2 (kept for leasing, heartbeats and settling); more fails at boot.
   * Default false.
   */
  readonly transaction?: boolean;
  /**
   * Deletes each completed message instead of keeping it `done` (BullMQ's `removeOnComplete`,
   * pg-boss's delete on completion): an ack then writes no new row version, so a queue that
   * keeps no history drains faster and its table holds only the work still to do (BENCHMARKS.md
   * has the figures). A message something still looks for is kept `done` as usual: one with a
   * parent (`children`), and one awaited by `waitFor`. A handler's return
   * value is stored only on those. Dead letters, cancelled messages and the cleanup are
   * unchanged. Default false: done messages are kept until the cleanup's `doneRetentionDays`.
   */
  readonly removeOnComplete?: boolean;
}

/**
 * Module-wide defaults for every processor. Flow limits are a queue's own, so they are set on
 * its processor only.
 */
export type ProcessorDefaults = Omit<
  ProcessorOptions,
  'body' | 'shareQueue' | 'globalConcurrency' | 'groupConcurrency' | 'rateLimit' | 'transaction'
>;
