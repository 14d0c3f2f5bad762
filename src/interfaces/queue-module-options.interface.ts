import { type ConnectionOptions } from 'node:tls';
import { type DataSource } from 'typeorm';
import {
  type CleanupScheduleOptions,
  type QueueHealthOptions,
  type ReaperOptions,
} from './maintenance-options.interface.js';
import { type QueueMetricsOptions } from './metrics-options.interface.js';
import {
  type QueueHeartbeatOptions,
  type QueueSamplesOptions,
} from './dashboard-data-options.interface.js';
import { type ProcessorDefaults } from './processor-options.interface.js';
import { type ScheduleDeclaration } from './schedule-options.interface.js';

/**
 * Options of `QueueModule.forRoot` / `forRootAsync`. Validated once at boot; a bad option stops
 * the application with a {@link QueueOptionsError} naming it.
 */
export interface QueueModuleOptions {
  /**
   * `postgres://` or `postgresql://` URL. Defaults to `process.env.DATABASE_URL`. Understands the
   * Python backend's forms: `sslmode` (libpq meaning) with `sslcert`/`sslkey`/`sslrootcert`, and the pool
   * hints `min_size`/`max_size` (explicit `poolMinSize`/`poolMaxSize` win over them).
   * Several hosts as libpq takes them (`postgresql://u:p@host1:5432,host2:5433/db?target_session_attrs=read-write`,
   * or the keyword form `host=host1,host2 port=5432,5433 …`) with `target_session_attrs` (`any`,
   * `read-write`, `read-only`, `primary`, `standby`, `prefer-standby`), `load_balance_hosts=random`
   * and a per-host `connect_timeout` in seconds: every connection goes to the first host that
   * satisfies the attribute, and after a failover to the new one.
   */
  readonly connectionString?: string;
  /**
   * An initialised TypeORM `DataSource` (postgres driver) to share, for example the one
   * `@nestjs/typeorm` created. The module uses its pool and never closes it.
   * Mutually exclusive with `connectionString` and the pool options.
   */
  readonly dataSource?: DataSource;
  /** Connections kept open, opened at boot. Default 10 (or `min_size` from the URL), never above `poolMaxSize`. */
  readonly poolMinSize?: number;
  /** Most connections open at once. Default 20 (or `max_size` from the URL). */
  readonly poolMaxSize?: number;
  /**
   * How long a statement may wait for a pooled connection (or a new connection may take to open)
   * before failing with `QueuePoolTimeoutError`. Default 10,000 ms.
   */
  readonly connectionTimeoutMs?: number;
  /**
   * Longest a statement may run on the server (`statement_timeout` of the module's own pool),
   * and, two seconds later, longest the module waits for its answer on any pool (so a half-open
   * connection, dropped by a NAT or a failover, fails a statement instead of stalling a queue for
   * the quarter of an hour TCP takes to notice). `0` turns both off. Default 30,000 ms.
   */
  readonly statementTimeoutMs?: number;
  /**
   * Longest a statement of the module's own pool waits for a lock (`lock_timeout`): a row lock
   * held elsewhere fails a settle (`ack`, `nack`, `ackMany`, `clearQueue`…) instead of blocking
   * it without end. The workers' own ack and heartbeat batches never wait: they skip locked rows
   * and try them again. `0` turns it off. Default 5,000 ms.
   */
  readonly lockTimeoutMs?: number;
  /** TLS settings passed to node-postgres; they replace what `sslmode` in the URL implies. */
  readonly ssl?: boolean | ConnectionOptions;
  /** `application_name` shown in `pg_stat_activity`. Default `fetchcraft-queue`. */
  readonly applicationName?: string;
  /** Schema of the queue table, created if missing. Lower-case identifier; default `public`. */
  readonly schema?: string;
  /** Name of the queue table. Lower-case identifier of at most 40 characters; default `messages`. */
  readonly table?: string;
  /**
   * Apply pending migrations at boot under an advisory lock. Default `true`; `false` with
   * `transactionPooling`, where `true` is refused.
   */
  readonly migrationsRun?: boolean;
  /**
   * Where the boot's migrations run, when not on the application's own connection: the URL of a
   * role that owns the queue's tables (or may create them), in the forms `connectionString`
   * takes. One connection is opened for the migrations and closed after them; on it the owner
   * then grants the application's role (`current_user` of `connectionString`) the privileges of
   * `queueGrantsSql` and no more. Everything else goes through the application's connection.
   * Requires `migrationsRun` (default `true`). Its password never appears in a log line or an
   * error.
   */
  readonly migrationsConnectionString?: string;
  /**
   * How long a migration's DDL statement may wait for its table lock. A statement that waits
   * would queue every worker's statements behind it, so past this the migration is rolled back
   * and tried again after 1, 2, 4 and 8 s, then the boot fails. Default 5,000 ms.
   */
  readonly migrationLockTimeoutMs?: number;
  /** Largest message body accepted, in bytes of JSON text. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Send statements as named prepared statements, planned once per connection (the lease and
   * batch statements excepted: they are planned for their values every time, since a generic
   * plan of theirs can read the whole table; but for the lease a worker sends after its queue ran
   * dry, whose scan limit is written into its text). Default `true`, `false` with `transactionPooling`:
   * PgBouncer in transaction mode before 1.21 (or without `max_prepared_statements`) cannot
   * route them.
   */
  readonly preparedStatements?: boolean;
  /**
   * Run the `@Processor` handlers of this process. Default `true`; `false` makes an API-only pod
   * that enqueues but never consumes (processors are still discovered and validated).
   */
  readonly workers?: boolean;
  /**
   * LISTEN for enqueue notifications on one dedicated connection, so idle workers start new
   * messages within milliseconds. Default `true`; with `transactionPooling`, `false` unless
   * `listenConnectionString` is given (LISTEN through PgBouncer in transaction mode hears
   * nothing). Workers poll either way.
   */
  readonly listen?: boolean;
  /**
   * `connectionString` (or the shared `dataSource`) goes through a pooler in transaction mode,
   * PgBouncer's `pool_mode = transaction`, which hands each transaction to whichever server
   * connection is free and keeps no session state. Then `statement_timeout` and `lock_timeout`
   * are not sent when connecting (PgBouncer refuses them; set them on the role:
   * `ALTER ROLE app SET statement_timeout = '30s'`), while the client still stops waiting after
   * `statementTimeoutMs` plus two seconds; `preparedStatements` defaults to `false`; `listen`
   * defaults to `false` unless `listenConnectionString` is given; and migrations do not run at
   * boot (run `fetchcraft-queue migrate` on a direct URL). Default `false`.
   */
  readonly transactionPooling?: boolean;
  /**
   * A direct `postgres://` URL (not through PgBouncer) for the LISTEN connections, the workers'
   * wake-ups and `waitFor`'s, while every statement goes through `connectionString`. One host,
   * the primary. Read by the rules of `connectionString`; the `ssl` option applies to it too.
   * Cannot be combined with `listen: false`.
   */
  readonly listenConnectionString?: string;
  /** How often an idle worker looks for due messages without a notification. Default 2,000 ms. */
  readonly pollIntervalMs?: number;
  /**
   * How long shutdown waits for running handlers before aborting them and returning their
   * messages to `ready`. Default 25,000 ms, inside Kubernetes' default 30 s grace period.
   */
  readonly shutdownTimeoutMs?: number;
  /** Defaults for every `@Processor` of this module (a processor's own options win). */
  readonly processorDefaults?: ProcessorDefaults;
  /**
   * The scheduled lease reaper: expired leases back to `ready`, or to the dead letters when that
   * was the last attempt. Default every 5 s; `false` turns it off (then call
   * `QueueService.reapExpiredLeases()` yourself, or a crashed worker's messages stay leased).
   */
  readonly reaper?: ReaperOptions | false;
  /**
   * The scheduled cleanup: old `done` messages deleted, old dead letters archived. Default
   * hourly with the Python backend's 7-day retention for done messages and 30 days for dead letters;
   * `false` turns it off.
   */
  readonly cleanup?: CleanupScheduleOptions | false;
  /** Thresholds and timeout of `QueueHealthIndicator` and the health endpoints. */
  readonly health?: QueueHealthOptions;
  /**
   * Recurring messages: each tick of each cron expression enqueues one message, once across
   * every replica. Upserted into `<table>_schedules` at boot (a changed expression moves the
   * next tick); a schedule this application declared before and declares no longer, here or with
   * `@RecurringMessage`, is deleted at boot. See `QueueService.schedule` for those added at run
   * time.
   */
  readonly schedules?: readonly ScheduleDeclaration[];
  /**
   * Prometheus metrics (counters, histograms and gauges named `fetchcraft_queue_…`) through
   * prom-client, which must then be installed; `true` takes every default. Off by default, and
   * then prom-client is never loaded. Serve them with the `metricsEndpoint` extra, or through the
   * application's own `/metrics` endpoint on the same registry.
   */
  readonly metrics?: boolean | QueueMetricsOptions;
  /**
   * Per-minute counts of each queue in `<table>_samples`, written once per minute for the whole
   * cluster, for `QueueService.listSamples` (the dashboard's charts). Default on, kept 48 hours.
   */
  readonly samples?: QueueSamplesOptions;
  /**
   * This process's row in `<table>_replicas` with its processors, every 10 s by default, for
   * `QueueService.listReplicas`. Default on.
   */
  readonly heartbeat?: QueueHeartbeatOptions;
}

/** Implemented by a class given to `forRootAsync({ useClass })`. */
export interface QueueOptionsFactory {
  createQueueOptions(): QueueModuleOptions | Promise<QueueModuleOptions>;
}
