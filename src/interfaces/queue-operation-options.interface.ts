/** Options of `enqueue` and `enqueueMany`. */
export interface EnqueueOptions {
  /** Seconds before the message becomes due; a whole number, default 0 (due at once). */
  readonly delaySeconds?: number;
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
  /** Rows per statement, so no statement holds locks for long. Default 10,000. */
  readonly batchSize?: number;
}

/** What a cleanup did. */
export interface CleanupResult {
  /** `done` messages deleted. */
  readonly deleted: number;
  /** Dead letters moved to the archive. */
  readonly archived: number;
}
