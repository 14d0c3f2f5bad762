import { validateCronExpression } from 'cron';
import { type DataSource } from 'typeorm';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueModuleOptions } from '../interfaces/queue-module-options.interface.js';
import { retentionSeconds } from './argument-rules.js';
import { parseConnectionString } from './connection-string.js';
import {
  DEFAULT_APPLICATION_NAME,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MIGRATION_LOCK_TIMEOUT_MS,
  DEFAULT_POOL_MAX_SIZE,
  DEFAULT_POOL_MIN_SIZE,
  DEFAULT_SCHEMA,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  DEFAULT_TABLE,
  DEFAULT_ARCHIVE_RETENTION_DAYS,
  DEFAULT_CLEANUP_CRON,
  DEFAULT_DONE_RETENTION_DAYS,
  DEFAULT_FAILED_RETENTION_DAYS,
  DEFAULT_HEALTH_COUNT_LIMIT,
  DEFAULT_HEALTH_MAX_DEAD_TUPLES,
  DEFAULT_HEALTH_MAX_HORIZON_AGE_SECONDS,
  DEFAULT_HEALTH_TIMEOUT_MS,
  DEFAULT_LOCK_TIMEOUT_MS,
  DEFAULT_STATEMENT_TIMEOUT_MS,
  DEFAULT_MAINTENANCE_BATCH,
  DEFAULT_REAPER_INTERVAL_MS,
  DEFAULT_METRICS_DEPTH_INTERVAL_MS,
  DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
  DEFAULT_SAMPLE_RETENTION_HOURS,
} from './defaults.js';
import { HeartbeatSchema, SamplesSchema } from './dashboard-data-options.schema.js';
import { MetricsSchema } from './metrics-options.schema.js';
import { queueTableNames } from './identifier-rules.js';
import { hostSelectionOf, resolveMigrationsConnection } from './migrations-connection.js';
import {
  CleanupSchema,
  HealthSchema,
  ReaperSchema,
  ThresholdsSchema,
} from './maintenance-options.schema.js';
import { processorOptionsViolation } from './processor-options.js';
import {
  type HealthConfig,
  type HeartbeatConfig,
  type SamplesConfig,
  type MaintenanceConfig,
  type MetricsConfig,
  type QueueConfig,
  type WorkersConfig,
} from './queue-config.js';
import { QueueOptionsSchema } from './queue-options.schema.js';
import { firstViolation } from './schema-validation.js';
import { resolvePooling, type PoolingSettings } from './transaction-pooling.js';

/**
 * Validates the module options once at boot and returns them defaulted and frozen.
 * Every failure is a {@link QueueOptionsError} naming the option and the rule.
 *
 * @param env where `DATABASE_URL` is read when `connectionString` is absent.
 */
export function resolveQueueConfig(
  options: QueueModuleOptions,
  env: NodeJS.ProcessEnv = process.env,
): QueueConfig {
  if (options === null || typeof options !== 'object') {
    throw new QueueOptionsError('options', 'must be an object');
  }
  const violation = firstViolation(QueueOptionsSchema, options);
  if (violation !== undefined) throw new QueueOptionsError(violation.property, violation.rule);

  const names = queueTableNames(options.schema ?? DEFAULT_SCHEMA, options.table ?? DEFAULT_TABLE);
  const pooling = resolvePooling(options);
  const connectionTimeoutMs = options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS;
  const migrationsConnection = resolveMigrationsConnection(options, connectionTimeoutMs);
  const common = {
    workers: resolveWorkers(options, pooling),
    maintenance: resolveMaintenance(options),
    health: resolveHealth(options),
    metrics: resolveMetrics(options),
    samples: resolveSamples(options),
    heartbeat: resolveHeartbeat(options),
    // Checked by the schedule explorer at module init, before any connection opens.
    schedules: Object.freeze([...(options.schedules ?? [])]),
    connectionTimeoutMs,
    statementTimeoutMs: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
    applicationName: options.applicationName ?? DEFAULT_APPLICATION_NAME,
    names,
    migrationsRun: pooling.migrationsRun,
    ...(migrationsConnection === undefined ? {} : { migrationsConnection }),
    migrationLockTimeoutMs: options.migrationLockTimeoutMs ?? DEFAULT_MIGRATION_LOCK_TIMEOUT_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    preparedStatements: pooling.preparedStatements,
    transactionPooling: pooling.transactionPooling,
    listenConnection: pooling.listenConnection,
  };

  if (options.dataSource !== undefined) {
    for (const option of ['connectionString', 'poolMinSize', 'poolMaxSize', 'ssl'] as const) {
      if (options[option] !== undefined) {
        throw new QueueOptionsError(
          option,
          'cannot be combined with dataSource: the shared DataSource brings its own connection settings',
        );
      }
    }
    return Object.freeze({
      ...common,
      connection: Object.freeze({
        kind: 'shared' as const,
        dataSource: assertPostgresDataSource(options.dataSource),
      }),
    });
  }

  const url = options.connectionString ?? env.DATABASE_URL;
  if (url === undefined || url.trim() === '') {
    throw new QueueOptionsError(
      'connectionString',
      'is required: pass connectionString, set DATABASE_URL, or pass an initialised dataSource',
    );
  }
  const parsed = parseConnectionString(url.trim());
  const poolMaxSize = options.poolMaxSize ?? parsed.poolMaxSize ?? DEFAULT_POOL_MAX_SIZE;
  const explicitMin = options.poolMinSize ?? parsed.poolMinSize;
  // Only a minimum somebody asked for can conflict; the default one shrinks to fit the maximum.
  const poolMinSize = explicitMin ?? Math.min(DEFAULT_POOL_MIN_SIZE, poolMaxSize);
  if (poolMinSize > poolMaxSize) {
    throw new QueueOptionsError(
      'poolMinSize',
      `must not exceed poolMaxSize (${poolMinSize} > ${poolMaxSize})`,
    );
  }
  const config = options.ssl === undefined ? parsed.config : { ...parsed.config, ssl: options.ssl };
  return Object.freeze({
    ...common,
    connection: Object.freeze({
      kind: 'owned' as const,
      config: Object.freeze(config),
      redacted: parsed.redacted,
      poolMinSize,
      poolMaxSize,
      hostSelection: hostSelectionOf(parsed, common.connectionTimeoutMs),
    }),
  });
}

function resolveWorkers(options: QueueModuleOptions, pooling: PoolingSettings): WorkersConfig {
  const defaults = options.processorDefaults ?? {};
  for (const perProcessor of ['body', 'shareQueue'] as const) {
    if (perProcessor in defaults) {
      throw new QueueOptionsError(
        `processorDefaults.${perProcessor}`,
        'is set per @Processor, not as a module-wide default',
      );
    }
  }
  const violation = processorOptionsViolation(defaults);
  if (violation !== undefined) {
    throw new QueueOptionsError(`processorDefaults.${violation.property}`, violation.rule);
  }
  return Object.freeze({
    enabled: options.workers ?? true,
    listen: pooling.listen,
    pollIntervalMs: options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    shutdownTimeoutMs: options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS,
    defaults: Object.freeze({ ...defaults }),
  });
}

function checked(schema: new () => object, value: object, prefix: string): void {
  const violation = firstViolation(schema, value);
  if (violation !== undefined) {
    throw new QueueOptionsError(`${prefix}.${violation.property}`, violation.rule);
  }
}

function resolveMaintenance(options: QueueModuleOptions): MaintenanceConfig {
  const { reaper = {}, cleanup = {} } = options;
  if (reaper !== false) checked(ReaperSchema, reaper, 'reaper');
  if (cleanup !== false) {
    checked(CleanupSchema, cleanup, 'cleanup');
    if (cleanup.cron !== undefined) {
      const { valid, error } = validateCronExpression(cleanup.cron);
      if (!valid) {
        throw new QueueOptionsError(
          'cleanup.cron',
          `must be a valid cron expression (${error?.message ?? 'unparseable'})`,
        );
      }
    }
  }
  return Object.freeze({
    reaper:
      reaper === false
        ? false
        : Object.freeze({
            intervalMs: reaper.intervalMs ?? DEFAULT_REAPER_INTERVAL_MS,
            batchSize: reaper.batchSize ?? DEFAULT_MAINTENANCE_BATCH,
          }),
    cleanup:
      cleanup === false
        ? false
        : Object.freeze({
            cron: cleanup.cron ?? DEFAULT_CLEANUP_CRON,
            doneRetentionSeconds: retentionSeconds(
              cleanup.doneRetentionDays ?? DEFAULT_DONE_RETENTION_DAYS,
              'cleanup.doneRetentionDays',
            ),
            failedRetentionSeconds: retentionSeconds(
              cleanup.failedRetentionDays ?? DEFAULT_FAILED_RETENTION_DAYS,
              'cleanup.failedRetentionDays',
            ),
            archiveRetentionSeconds: retentionSeconds(
              cleanup.archiveRetentionDays ?? DEFAULT_ARCHIVE_RETENTION_DAYS,
              'cleanup.archiveRetentionDays',
            ),
            batchSize: cleanup.batchSize ?? DEFAULT_MAINTENANCE_BATCH,
          }),
  });
}

function resolveHealth(options: QueueModuleOptions): HealthConfig {
  const {
    timeoutMs,
    countLimit,
    queues = {},
    maxHorizonAgeSeconds,
    maxDeadTuples,
    ...thresholds
  } = options.health ?? {};
  checked(HealthSchema, options.health ?? {}, 'health');
  for (const [queue, perQueue] of Object.entries(queues)) {
    if (perQueue === null || typeof perQueue !== 'object') {
      throw new QueueOptionsError(`health.queues.${queue}`, 'must be an object of thresholds');
    }
    checked(ThresholdsSchema, perQueue, `health.queues.${queue}`);
  }
  const depthLimits = [thresholds, ...Object.values(queues)].map((t) => t.maxReadyDepth ?? 0);
  return Object.freeze({
    timeoutMs: timeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
    // A threshold must always be decidable: count at least one past the largest maxReadyDepth.
    countLimit: Math.max(
      countLimit ?? DEFAULT_HEALTH_COUNT_LIMIT,
      ...depthLimits.map((d) => d + 1),
    ),
    thresholds: Object.freeze(thresholds),
    queues: Object.freeze({ ...queues }),
    vacuum: Object.freeze({
      maxHorizonAgeSeconds: maxHorizonAgeSeconds ?? DEFAULT_HEALTH_MAX_HORIZON_AGE_SECONDS,
      maxDeadTuples: maxDeadTuples ?? DEFAULT_HEALTH_MAX_DEAD_TUPLES,
    }),
  });
}

function resolveMetrics(options: QueueModuleOptions): MetricsConfig | false {
  const { metrics = false } = options;
  if (metrics === false) return false;
  const given = metrics === true ? {} : metrics;
  checked(MetricsSchema, given, 'metrics');
  const { registry } = given;
  if (
    registry !== undefined &&
    (typeof registry.registerMetric !== 'function' || typeof registry.metrics !== 'function')
  ) {
    throw new QueueOptionsError('metrics.registry', 'must be a prom-client Registry');
  }
  return Object.freeze({
    // The application's object: referenced, never frozen or copied.
    registry,
    prefix: given.prefix ?? '',
    depthIntervalMs: given.depthIntervalMs ?? DEFAULT_METRICS_DEPTH_INTERVAL_MS,
  });
}

function resolveSamples(options: QueueModuleOptions): SamplesConfig | false {
  const given = options.samples ?? {};
  checked(SamplesSchema, given, 'samples');
  if (given.enabled === false) return false;
  return Object.freeze({
    retentionHours: given.retentionHours ?? DEFAULT_SAMPLE_RETENTION_HOURS,
  });
}

function resolveHeartbeat(options: QueueModuleOptions): HeartbeatConfig | false {
  const given = options.heartbeat ?? {};
  checked(HeartbeatSchema, given, 'heartbeat');
  if (given.enabled === false) return false;
  return Object.freeze({
    intervalSeconds: given.intervalSeconds ?? DEFAULT_HEARTBEAT_INTERVAL_SECONDS,
  });
}

function assertPostgresDataSource(value: unknown): DataSource {
  const candidate = value as Partial<DataSource>;
  if (typeof candidate.createQueryRunner !== 'function' || candidate.options === undefined) {
    throw new QueueOptionsError('dataSource', 'must be a TypeORM DataSource');
  }
  if (candidate.options.type !== 'postgres') {
    throw new QueueOptionsError(
      'dataSource',
      `must use the postgres driver (got ${String(candidate.options.type)})`,
    );
  }
  if (candidate.isInitialized !== true) {
    throw new QueueOptionsError(
      'dataSource',
      'must be initialised before the queue boots (await dataSource.initialize(), or inject the one @nestjs/typeorm provides)',
    );
  }
  return value as DataSource;
}
