/**
 * Every bound on a number the package accepts, in one place. An option accepted in two places
 * (a processor's `leaseSeconds` and `leaseMany`'s, the reaper's `batchSize` and
 * `reapExpiredLeases`'s `limit`) has one entry, so the two can never disagree.
 */

/** An inclusive range of whole numbers. */
export interface Bounds {
  readonly min: number;
  readonly max: number;
}

/** Largest delay in seconds: the statements bind delays as a Postgres `integer`. */
export const MAX_SECONDS = 2_147_483_647;
/** Longest queue name accepted, in UTF-16 code units. */
export const MAX_QUEUE_NAME_LENGTH = 128;
/** Longest message id accepted (ids are `text` in the Python backend's schema). */
export const MAX_MESSAGE_ID_LENGTH = 255;
/** Most messages one `leaseMany` call may claim; also the most leases or ids one call settles. */
export const MAX_LEASE_BATCH = 10_000;
/** Most bodies one `enqueueMany` call may carry. */
export const MAX_ENQUEUE_BATCH = 100_000;
/**
 * Most bytes of JSON one `enqueueMany` call may carry in all. The batch travels as one string
 * parameter: past this, V8's string limit or Postgres' 1 GB parameter limit would fail it with a
 * less helpful error.
 */
export const MAX_ENQUEUE_BATCH_BYTES = 256 * 1024 * 1024;
/**
 * Deepest nesting of objects and arrays a body may have. Real documents stay far below it; a
 * pathological body (10,000 levels) is refused instead of exhausting a stack in Node or Postgres.
 */
export const MAX_BODY_DEPTH = 256;
/** libpq's shortest `connect_timeout`: a URL's `connect_timeout=1` means 2 seconds, as there. */
export const MIN_CONNECT_TIMEOUT_SECONDS = 2;
/** Longest schema name: Postgres' identifier limit. */
export const MAX_SCHEMA_NAME_LENGTH = 63;
/** Longest table name: derived names (`idx_<table>_queue_avail`, `<table>_migrations`) must fit 63 bytes. */
export const MAX_TABLE_NAME_LENGTH = 40;

/**
 * Most bytes of JSON one `message.progress(value)` may record. Progress is written while the
 * handler runs, possibly many times: a status, a percentage, a few counters, not a document
 * (return that as the result).
 */
export const MAX_PROGRESS_BYTES = 64 * 1024;

/** Highest `priority` of a message (0, the default, is the lowest). */
export const MAX_PRIORITY = 1_000_000;
/** Longest `uniqueKey` or `groupKey`, as long as a message id. */
export const MAX_KEY_LENGTH = 255;

const MAX_CONCURRENCY = 1_000;

export const LIMITS = {
  /** A message's `priority`: higher first. */
  priority: { min: 0, max: MAX_PRIORITY },
  /** `uniqueWindowSeconds`: bound as a Postgres `integer`, like a delay. */
  uniqueWindowSeconds: { min: 1, max: MAX_SECONDS },
  /** `delaySeconds`, `requeueDelaySeconds`, a snooze, a fixed backoff's delay. */
  delaySeconds: { min: 0, max: MAX_SECONDS },
  /**
   * A lease, for processors and `leaseNext`/`leaseMany` alike. A day at most: a worker extends
   * its leases at half-time on one timer, and a lease that outlives a day protects nothing.
   */
  leaseSeconds: { min: 1, max: 86_400 },
  /** For processors and `leaseNext`/`leaseMany` alike. */
  maxAttempts: { min: 1, max: 1_000 },
  /** `leaseMany`'s and `listFailed`'s `limit`. */
  batch: { min: 1, max: MAX_LEASE_BATCH },
  concurrency: { min: 1, max: MAX_CONCURRENCY },
  /** A processor's `globalConcurrency`: leased messages of a queue across every replica. */
  globalConcurrency: { min: 1, max: 1_000_000 },
  /** A processor's `groupConcurrency`: leased messages of one group across every replica. */
  groupConcurrency: { min: 1, max: 1_000_000 },
  /** `rateLimit.max`. */
  rateLimitMax: { min: 1, max: 1_000_000 },
  /** `rateLimit.perSeconds`: up to a day. */
  rateLimitPerSeconds: { min: 1, max: 86_400 },
  /** `waitFor`'s `timeoutMs`: at most a day, like a handler's timeout. */
  waitTimeoutMs: { min: 1, max: 86_400_000 },
  /** A handler's `timeoutMs`: at most a day, like a lease. */
  handlerTimeoutMs: { min: 1, max: 86_400_000 },
  /** So that one refill (free slots plus the buffer) never asks for more than one lease batch. */
  prefetch: { min: 0, max: MAX_LEASE_BATCH - MAX_CONCURRENCY },
  /** The prefetch buffer's byte budget: 1 KiB to 1 GiB. */
  prefetchBytes: { min: 1024, max: 1024 * 1024 * 1024 },
  backoffBaseSeconds: { min: 1, max: 86_400 },
  backoffMaxSeconds: { min: 1, max: MAX_SECONDS },
  /** Rows per maintenance statement: `reaper.batchSize`, `cleanup.batchSize`, `reapExpiredLeases({ limit })`, `cleanup({ batchSize })`. */
  maintenanceBatch: { min: 1, max: 1_000_000 },
  /** Retention of the cleanup, in days (fractions allowed); a hundred years at most. */
  retentionDays: { min: 0, max: 36_500 },
  poolMinSize: { min: 0, max: 1_000 },
  poolMaxSize: { min: 1, max: 1_000 },
  connectionTimeoutMs: { min: 1, max: 600_000 },
  migrationLockTimeoutMs: { min: 1, max: 600_000 },
  /** Zero turns the server-side limit off, as in Postgres. */
  statementTimeoutMs: { min: 0, max: 3_600_000 },
  lockTimeoutMs: { min: 0, max: 600_000 },
  maxBodyBytes: { min: 1, max: 256 * 1024 * 1024 },
  pollIntervalMs: { min: 10, max: 3_600_000 },
  shutdownTimeoutMs: { min: 0, max: 3_600_000 },
  reaperIntervalMs: { min: 100, max: 3_600_000 },
  healthTimeoutMs: { min: 1, max: 60_000 },
  /** `metrics.depthIntervalMs`: one depth statement per interval per process. */
  metricsDepthIntervalMs: { min: 100, max: 3_600_000 },
  healthCountLimit: { min: 1, max: 100_000_000 },
  /**
   * `maxReadyDepth`: ready messages are counted one past it, so it stays within the count limit
   * (and the statement's `integer` parameter).
   */
  readyDepthThreshold: { min: 0, max: 100_000_000 },
  /** A schedule's `missed: { backfill }`: messages one schedule enqueues at once after an outage. */
  backfillTicks: { min: 1, max: 1_000 },
  /** `maxOldestReadyAgeSeconds` and `maxFailed`. */
  threshold: { min: 0, max: MAX_SECONDS },
  /** `samples.retentionHours`: a month at most; the table holds a row per queue and minute. */
  sampleRetentionHours: { min: 1, max: 720 },
  /** `listSamples`' `sinceMinutes`: a week. */
  sampleMinutes: { min: 1, max: 10_080 },
  /** `heartbeat.intervalSeconds`. */
  heartbeatIntervalSeconds: { min: 1, max: 300 },
  /** `retryFailedInBatches`' `batchSize`: one batch is one short statement, as a lease batch. */
  retryBatch: { min: 1, max: MAX_LEASE_BATCH },
} as const satisfies Record<string, Bounds>;

/** Most messages (parents and children, at every level) one `enqueueFlow` call may carry. */
export const MAX_FLOW_NODES = 10_000;
/** Deepest a flow may nest: the root is level 1, its children level 2, and so on. */
export const MAX_FLOW_DEPTH = 32;
