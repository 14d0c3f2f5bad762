/** The scheduled lease reaper. */
export interface ReaperOptions {
  /** Milliseconds between runs. Default 5,000. */
  readonly intervalMs?: number;
  /** Most expired leases settled per run (one statement). Default 10,000. */
  readonly batchSize?: number;
}

/** The scheduled cleanup of old messages. */
export interface CleanupScheduleOptions {
  /** When to run, as a cron expression. Default `0 * * * *` (hourly). */
  readonly cron?: string;
  /** Delete `done` messages created more than this many days ago; `false` keeps them. Default 7. */
  readonly doneRetentionDays?: number | false;
  /** Archive dead letters created more than this many days ago; `false` keeps them. Default 30. */
  readonly failedRetentionDays?: number | false;
  /**
   * Drop the archive's weekly partitions whose every row was archived more than this many days
   * ago; `false` keeps the archive forever. Default `false`. Each run also creates the partitions
   * of the coming weeks.
   */
  readonly archiveRetentionDays?: number | false;
  /** Rows per statement. Default 10,000. */
  readonly batchSize?: number;
}

/** Limits that turn a queue's health `down`. Unset means no limit. */
export interface QueueHealthThresholds {
  /** Most `ready` messages. */
  readonly maxReadyDepth?: number;
  /** Oldest due `ready` message's age, in seconds. */
  readonly maxOldestReadyAgeSeconds?: number;
  /** Most `failed` messages. */
  readonly maxFailed?: number;
}

/** How `QueueHealthIndicator` judges the queues; thresholds apply to every queue unless overridden. */
export interface QueueHealthOptions extends QueueHealthThresholds {
  /** How long the database may take to answer a health query. Default 1,000 ms. */
  readonly timeoutMs?: number;
  /**
   * Ready messages are counted up to this many per queue (and always past every `maxReadyDepth`),
   * so the report stays cheap on a deep backlog; beyond it `readyCapped` is true. Default 10,000.
   */
  readonly countLimit?: number;
  /** Per-queue thresholds, replacing the global ones field by field. */
  readonly queues?: Readonly<Record<string, QueueHealthThresholds>>;
  /**
   * Seconds the oldest transaction holding back vacuum (the database's xmin horizon) may stay
   * open before the `vacuum` check turns down; `false` turns it off. Default 3,600.
   */
  readonly maxHorizonAgeSeconds?: number | false;
  /**
   * Dead tuples in the queue table past which the `vacuum` check turns down; `false` turns it
   * off. Default 10,000,000.
   */
  readonly maxDeadTuples?: number | false;
}
