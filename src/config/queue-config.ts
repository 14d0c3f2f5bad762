import { type DataSource } from 'typeorm';
import { type QueueHealthThresholds } from '../interfaces/maintenance-options.interface.js';
import { type ProcessorDefaults } from '../interfaces/processor-options.interface.js';
import { type QueueTableNames } from '../sql/queue-table.js';
import { type PgConnectionConfig } from './connection-string.js';

/** A connection the module opens and closes itself. */
export interface OwnedConnection {
  readonly kind: 'owned';
  readonly config: PgConnectionConfig;
  /** The URL without its password, for log lines. */
  readonly redacted: string;
  readonly poolMinSize: number;
  readonly poolMaxSize: number;
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
  readonly applicationName: string;
  readonly names: QueueTableNames;
  readonly migrationsRun: boolean;
  readonly maxBodyBytes: number;
  readonly preparedStatements: boolean;
  readonly workers: WorkersConfig;
  readonly maintenance: MaintenanceConfig;
  readonly health: HealthConfig;
}

export interface MaintenanceConfig {
  readonly reaper: false | { readonly intervalMs: number; readonly batchSize: number };
  readonly cleanup:
    | false
    | {
        readonly cron: string;
        readonly doneRetentionDays: number | false;
        readonly failedRetentionDays: number | false;
        readonly batchSize: number;
      };
}

export interface HealthConfig {
  readonly timeoutMs: number;
  /** Ready rows counted per queue: the option, raised past every maxReadyDepth. */
  readonly countLimit: number;
  readonly thresholds: QueueHealthThresholds;
  readonly queues: Readonly<Record<string, QueueHealthThresholds>>;
}

export interface WorkersConfig {
  readonly enabled: boolean;
  readonly listen: boolean;
  readonly pollIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly defaults: ProcessorDefaults;
}

export const DEFAULT_POOL_MIN_SIZE = 10;
export const DEFAULT_POOL_MAX_SIZE = 20;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_SCHEMA = 'public';
export const DEFAULT_TABLE = 'messages';
export const DEFAULT_APPLICATION_NAME = 'fetchcraft-queue';
export const DEFAULT_POLL_INTERVAL_MS = 2_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;
export const DEFAULT_REAPER_INTERVAL_MS = 5_000;
export const DEFAULT_MAINTENANCE_BATCH = 10_000;
export const DEFAULT_CLEANUP_CRON = '0 * * * *';
export const DEFAULT_DONE_RETENTION_DAYS = 7;
export const DEFAULT_FAILED_RETENTION_DAYS = 30;
export const DEFAULT_HEALTH_TIMEOUT_MS = 1_000;
export const DEFAULT_HEALTH_COUNT_LIMIT = 10_000;
