/**
 * Every default of the package, in one place. A default used by two entry points (the
 * processors' lease and `leaseNext`'s, the reaper's batch and `reapExpiredLeases`'s limit) is
 * one constant.
 */

/**
 * Connections open on demand and close after 10 s idle: an eager 10 per replica (asyncpg's
 * default) held 11 idle connections per pod at boot. `min_size` in the URL or `poolMinSize` keep
 * a warm pool for those who want one.
 */
export const DEFAULT_POOL_MIN_SIZE = 0;
export const DEFAULT_POOL_MAX_SIZE = 20;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
export const DEFAULT_MIGRATION_LOCK_TIMEOUT_MS = 5_000;
/** The longest statement of the package is a cleanup batch of 10,000 rows: far below this. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;
/** A settle waiting on a row lock someone else holds gives up. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_SCHEMA = 'public';
export const DEFAULT_TABLE = 'messages';
export const DEFAULT_APPLICATION_NAME = 'fetchcraft-queue';
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
/** Inside Kubernetes' default 30 s grace period. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;
export const DEFAULT_REAPER_INTERVAL_MS = 5_000;
/** Rows per maintenance statement: the reaper's and the cleanup's batches. */
export const DEFAULT_MAINTENANCE_BATCH = 10_000;
export const DEFAULT_CLEANUP_CRON = '0 * * * *';
/** The Python backend's guide deletes `done` messages after seven days. */
export const DEFAULT_DONE_RETENTION_DAYS = 7;
export const DEFAULT_FAILED_RETENTION_DAYS = 30;
/**
 * The archive is kept forever unless asked: it is where failures are kept for audit, and an
 * upgrade must not start deleting what an operator relied on.
 */
export const DEFAULT_ARCHIVE_RETENTION_DAYS = false;
export const DEFAULT_HEALTH_TIMEOUT_MS = 1_000;
export const DEFAULT_HEALTH_COUNT_LIMIT = 10_000;
/**
 * An hour: a report or a backup may hold a snapshot for minutes on end without harm; an hour of
 * a queue table's churn kept from vacuum is a table several times its size.
 */
export const DEFAULT_HEALTH_MAX_HORIZON_AGE_SECONDS = 3_600;
/**
 * Ten million: autovacuum clears a busy queue table's dead tuples every minute or so; this many
 * means it has not for a long while, whatever the load.
 */
export const DEFAULT_HEALTH_MAX_DEAD_TUPLES = 10_000_000;
/**
 * Body bytes (as stored) one `leaseNext`/`leaseMany` call returns at most, beyond its first
 * message: 10,000 leased bodies of 1 MiB would otherwise be 10 GiB in one result.
 */
export const DEFAULT_LEASE_MAX_BYTES = 64 * 1024 * 1024;
/**
 * With `prefetch: 'auto'`, a worker leases ahead what its handlers start in about this long, at
 * their measured speed, and never more than `AUTO_PREFETCH_MAX` messages.
 */
export const AUTO_PREFETCH_SECONDS = 1;
export const AUTO_PREFETCH_MAX = 1_000;
/** How long `waitFor` waits for a message to end unless told otherwise. */
export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
/** `listFailed`'s page. */
export const DEFAULT_LIST_LIMIT = 100;

/** A processor's options when neither it nor `processorDefaults` sets them. */
export const DEFAULT_PROCESSOR_OPTIONS = Object.freeze({
  concurrency: 1,
  /**
   * About a second of work ahead (see AUTO_PREFETCH_*): a worker that leased only its free slots
   * sent one small lease per finished handler, and each lease's cost grows with the dead index
   * entries a pinned xmin horizon leaves, until leasing fell behind (bench/pinned-horizon.ts).
   */
  prefetch: 'auto',
  /** Body bytes (as stored) the prefetch buffer holds at most, beyond one message. */
  prefetchBytes: 16 * 1024 * 1024,
  /** Also `leaseNext`'s and `leaseMany`'s lease. */
  leaseSeconds: 60,
  maxAttempts: 5,
  backoff: Object.freeze({
    type: 'exponential',
    baseSeconds: 5,
    maxSeconds: 3600,
    jitter: true,
  } as const),
});

/** A schedule's time zone when none is given. */
export const DEFAULT_SCHEDULE_TIME_ZONE = 'UTC';
/** A schedule's policy for ticks missed while no replica ran: one message for all of them. */
export const DEFAULT_MISSED_TICKS = 'once';
/**
 * A schedule whose next tick is at most this old is late, not behind: every due tick is
 * enqueued. Older, no replica ran it for a while (all down, the database unreachable), and its
 * `missed` policy applies. Far above a replica's lag (a long GC, a slow statement), below any
 * outage worth a policy.
 */
export const SCHEDULE_LATE_TOLERANCE_SECONDS = 60;
/**
 * How long the unique key of a tick's message (`schedule:<name>:<tick>`) is held, whatever the
 * message's state: a week, far beyond any replica's lag. The schedule's row already makes each
 * tick enqueued once; the key is the second lock, and where a handler reads its tick.
 */
export const SCHEDULE_TICK_KEY_WINDOW_SECONDS = 7 * 86_400;
/**
 * Longest a scheduler sleeps without looking at the schedules table: how soon it sees a
 * schedule another replica added when no notification reached it.
 */
export const SCHEDULE_MAX_SLEEP_MS = 30_000;
/** How often each process samples the depth gauges of the metrics. */
export const DEFAULT_METRICS_DEPTH_INTERVAL_MS = 15_000;
/**
 * Ready messages the depth gauge counts per queue, past which it reports this number. Ten times
 * the health check's default: a graph should follow a backlog further than a threshold needs,
 * and counting walks the ready index, so the cost follows the count, once per interval.
 */
export const METRICS_DEPTH_COUNT_LIMIT = 100_000;
/** Bounds of the latency histograms, in seconds: 1 ms to five minutes. */
export const METRICS_LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
]);

/**
 * Two days of per-minute samples: a row per queue and minute, 2,880 per queue, enough for the
 * dashboard's charts over the last hours and yesterday's same hour.
 */
export const DEFAULT_SAMPLE_RETENTION_HOURS = 48;
/** Sampled minutes one sampler run deletes at most past retention (about one, once caught up). */
export const SAMPLE_EXPIRE_MINUTES = 1_000;
/** What `listSamples` returns without `sinceMinutes`: the last three hours. */
export const DEFAULT_SAMPLE_MINUTES = 180;
/**
 * How long after a minute starts (by this process's clock) its sampler looks: the database's
 * clock decides the minute, and a skew of up to this much still samples the one that closed.
 */
export const SAMPLE_DELAY_MS = 2_000;
/** How often each process writes its heartbeat row. */
export const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 10;
/** A replica not heard of for this long died without its shutdown hook: its row is deleted. */
export const REPLICA_FORGET_SECONDS = 3_600;
/** Dead letters one batch of `retryFailedInBatches` puts back. */
export const DEFAULT_RETRY_BATCH = 1_000;
/** Where the dashboard is mounted without `dashboard.path`. */
export const DEFAULT_DASHBOARD_PATH = 'queues';
/** Messages per page of the dashboard's queue page. */
export const DASHBOARD_PAGE_SIZE = 50;
/** Blocked groups the dashboard lists per queue. */
export const DASHBOARD_GROUPS_PER_QUEUE = 100;
