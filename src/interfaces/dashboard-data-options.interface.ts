/**
 * The `samples` option of `QueueModule.forRoot`: the per-minute counts of each queue that
 * `QueueService.listSamples` returns (the dashboard's charts).
 */
export interface QueueSamplesOptions {
  /**
   * Sample every minute. Default `true`. Every replica runs the sampler, and each minute is
   * sampled by one of them (the first to claim it); turn it off where no dashboard is read.
   */
  readonly enabled?: boolean;
  /** How long samples are kept, in hours: 1 to 720. Default 48. */
  readonly retentionHours?: number;
}

/**
 * The `heartbeat` option of `QueueModule.forRoot`: each process writes a row with its processors
 * (`QueueService.listReplicas`), so a dashboard on one pod sees every pod.
 */
export interface QueueHeartbeatOptions {
  /** Write the heartbeat row. Default `true`, `workers: false` included (with no processors). */
  readonly enabled?: boolean;
  /** How often, in seconds: 1 to 300. Default 10. A replica is listed for three intervals after its last beat. */
  readonly intervalSeconds?: number;
}

/** `QueueService.retryFailedInBatches`' options. */
export interface RetryFailedInBatchesOptions {
  /** Dead letters per batch (one short statement each): 1 to 10,000. Default 1,000. */
  readonly batchSize?: number;
  /**
   * Called after each batch with how many were put back so far. A callback that throws stops the
   * run there (the batches before it stay retried) and the call rejects with its error.
   */
  readonly onBatch?: (retriedSoFar: number) => void;
}
