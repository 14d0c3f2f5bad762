import { type DataSource } from 'typeorm';
import { type PrometheusRegistry } from '../interfaces/metrics-options.interface.js';
import { type QueueHealthThresholds } from '../interfaces/maintenance-options.interface.js';
import { type ProcessorDefaults } from '../interfaces/processor-options.interface.js';
import { type ScheduleDeclaration } from '../interfaces/schedule-options.interface.js';
import { type QueueTableNames } from '../sql/table-names.js';
import { type PgConnectionConfig } from './connection-string.js';
import { type ListenConnection } from './transaction-pooling.js';
import {
  type HostAddress,
  type LoadBalanceHosts,
  type TargetSessionAttrs,
} from './target-session-attrs.js';

/** A connection the module opens and closes itself. */
export interface OwnedConnection {
  readonly kind: 'owned';
  readonly config: PgConnectionConfig;
  /** The URL without its password, for log lines. */
  readonly redacted: string;
  readonly poolMinSize: number;
  readonly poolMaxSize: number;
  /**
   * How to pick among several hosts, as libpq does; undefined for one host and
   * `target_session_attrs=any`, where node-postgres connects by itself.
   */
  readonly hostSelection: HostSelectionConfig | undefined;
}

/** A multi-host URL (or one host with a `target_session_attrs`), resolved. */
export interface HostSelectionConfig {
  readonly hosts: readonly HostAddress[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly loadBalanceHosts: LoadBalanceHosts;
  /** One host attempt's limit: the URL's `connect_timeout`, else `connectionTimeoutMs`. */
  readonly hostConnectTimeoutMs: number;
}

/** A `DataSource` the application owns; the module borrows its pool. */
export interface SharedConnection {
  readonly kind: 'shared';
  readonly dataSource: DataSource;
}

/** The validated, defaulted, frozen form of the module options. Never mutated after boot. */
export interface QueueConfig {
  readonly connection: OwnedConnection | SharedConnection;
  readonly connectionTimeoutMs: number;
  /** Server-side limit of a statement; 0 for none. Also bounds the client's wait (see QueueConnection). */
  readonly statementTimeoutMs: number;
  /** Server-side limit of a lock wait; 0 for none. */
  readonly lockTimeoutMs: number;
  readonly applicationName: string;
  readonly names: QueueTableNames;
  readonly migrationsRun: boolean;
  /**
   * The one connection the boot's migrations run on (`migrationsConnectionString`), opened for
   * them and closed after; undefined: they run on `connection`.
   */
  readonly migrationsConnection?: OwnedConnection;
  readonly migrationLockTimeoutMs: number;
  readonly maxBodyBytes: number;
  readonly preparedStatements: boolean;
  /** Statements go through a pooler in transaction mode (see `transactionPooling`). */
  readonly transactionPooling: boolean;
  /** A direct connection for LISTEN, apart from the pooled statements; undefined: the pool's. */
  readonly listenConnection: ListenConnection | undefined;
  readonly workers: WorkersConfig;
  readonly maintenance: MaintenanceConfig;
  readonly health: HealthConfig;
  /**
   * The schedules of the module options, as given: the schedule explorer checks them at module
   * init (`resolveModuleSchedules`), before any connection opens, and upserts them at boot.
   */
  readonly schedules: readonly ScheduleDeclaration[];
  /** The Prometheus metrics, or false when they are off (prom-client is then never loaded). */
  readonly metrics: MetricsConfig | false;
  /** The per-minute samples; false when off. */
  readonly samples: SamplesConfig | false;
  /** This process's heartbeat row; false when off. */
  readonly heartbeat: HeartbeatConfig | false;
}

export interface SamplesConfig {
  readonly retentionHours: number;
}

export interface HeartbeatConfig {
  readonly intervalSeconds: number;
}

export interface MetricsConfig {
  /** The application's registry; prom-client's default `register` when undefined. */
  readonly registry: PrometheusRegistry | undefined;
  /** Put before every metric name; '' for none. */
  readonly prefix: string;
  /** How often this process samples the depth gauges; false for never. */
  readonly depthIntervalMs: number | false;
}

export interface MaintenanceConfig {
  readonly reaper: false | { readonly intervalMs: number; readonly batchSize: number };
  readonly cleanup:
    | false
    | {
        readonly cron: string;
        /** Done messages older than this are deleted; undefined keeps them. */
        readonly doneRetentionSeconds: number | undefined;
        /** Dead letters older than this are archived; undefined keeps them. */
        readonly failedRetentionSeconds: number | undefined;
        /** Archive partitions whose rows are all older than this are dropped; undefined keeps them. */
        readonly archiveRetentionSeconds: number | undefined;
        readonly batchSize: number;
      };
}

export interface HealthConfig {
  readonly timeoutMs: number;
  /** Ready rows counted per queue: the option, raised past every maxReadyDepth. */
  readonly countLimit: number;
  readonly thresholds: QueueHealthThresholds;
  readonly queues: Readonly<Record<string, QueueHealthThresholds>>;
  /** The `vacuum` check's limits; `false`: not checked. */
  readonly vacuum: {
    readonly maxHorizonAgeSeconds: number | false;
    readonly maxDeadTuples: number | false;
  };
}

export interface WorkersConfig {
  readonly enabled: boolean;
  readonly listen: boolean;
  readonly pollIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly defaults: ProcessorDefaults;
}
