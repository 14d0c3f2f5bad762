/** One processor as its replica last reported it. */
export interface ReplicaProcessor {
  readonly queue: string;
  readonly concurrency: number;
  /** Handlers running at the last heartbeat. */
  readonly running: number;
  /** Whether this replica's worker of the queue was paused at the last heartbeat. */
  readonly paused: boolean;
}

/**
 * One process running the module (`QueueService.listReplicas`), from the heartbeat table that
 * every replica writes, so a dashboard on one pod sees the processors of all pods.
 */
export interface QueueReplica {
  /** Random per process start. */
  readonly id: string;
  readonly applicationName: string;
  readonly hostname: string;
  readonly pid: number;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  readonly processors: readonly ReplicaProcessor[];
}
