import { validateSync, type ValidationError } from 'class-validator';
import { type DataSource } from 'typeorm';
import { QueueOptionsError } from '../errors/queue-options.error.js';
import { type QueueModuleOptions } from '../interfaces/queue-module-options.interface.js';
import { queueTableNames } from '../sql/queue-table.js';
import { parseConnectionString } from './connection-string.js';
import {
  DEFAULT_APPLICATION_NAME,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_POOL_MAX_SIZE,
  DEFAULT_POOL_MIN_SIZE,
  DEFAULT_SCHEMA,
  DEFAULT_TABLE,
  type QueueConfig,
} from './queue-config.js';
import { QueueOptionsSchema } from './queue-options.schema.js';

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
  const schemaInstance = Object.assign(new QueueOptionsSchema(), options);
  const errors = validateSync(schemaInstance, { whitelist: true, forbidNonWhitelisted: true });
  const first = errors[0];
  if (first !== undefined) throw toOptionsError(first);

  const names = queueTableNames(options.schema ?? DEFAULT_SCHEMA, options.table ?? DEFAULT_TABLE);
  const common = {
    connectionTimeoutMs: options.connectionTimeoutMs ?? DEFAULT_CONNECTION_TIMEOUT_MS,
    applicationName: options.applicationName ?? DEFAULT_APPLICATION_NAME,
    names,
    migrationsRun: options.migrationsRun ?? true,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
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
    }),
  });
}

function toOptionsError(error: ValidationError): QueueOptionsError {
  if (error.constraints?.whitelistValidation !== undefined) {
    return new QueueOptionsError(error.property, 'is not a known option (check its spelling)');
  }
  const rules = Object.values(error.constraints ?? {});
  const rule =
    rules.map((message) => message.replace(new RegExp(`^${error.property} `), '')).join('; ') ||
    'is invalid';
  return new QueueOptionsError(error.property, rule);
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
