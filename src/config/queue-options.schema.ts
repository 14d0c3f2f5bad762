import {
  IsArray,
  IsBoolean,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  ValidateIf,
} from 'class-validator';
import { LIMITS } from './limits.js';
import { IsWithin } from './schema-validation.js';

/**
 * The class-validator rules of {@link QueueModuleOptions}. Cross-field rules (min against max,
 * `dataSource` against a URL) and identifier rules live in `resolveQueueConfig`.
 */
export class QueueOptionsSchema {
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  connectionString?: string;

  @IsOptional()
  @IsObject()
  dataSource?: object;

  @IsOptional()
  @IsWithin(LIMITS.poolMinSize)
  poolMinSize?: number;

  @IsOptional()
  @IsWithin(LIMITS.poolMaxSize)
  poolMaxSize?: number;

  @IsOptional()
  @IsWithin(LIMITS.connectionTimeoutMs)
  connectionTimeoutMs?: number;

  @IsOptional()
  @ValidateIf((_object, value) => typeof value !== 'boolean')
  @IsObject({ message: 'ssl must be a boolean or a TLS options object' })
  ssl?: boolean | object;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  applicationName?: string;

  @IsOptional()
  @IsString()
  schema?: string;

  @IsOptional()
  @IsString()
  table?: string;

  @IsOptional()
  @IsBoolean()
  migrationsRun?: boolean;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  migrationsConnectionString?: string;

  @IsOptional()
  @IsWithin(LIMITS.migrationLockTimeoutMs)
  migrationLockTimeoutMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.statementTimeoutMs)
  statementTimeoutMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.lockTimeoutMs)
  lockTimeoutMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.maxBodyBytes)
  maxBodyBytes?: number;

  @IsOptional()
  @IsBoolean()
  preparedStatements?: boolean;

  @IsOptional()
  @IsBoolean()
  workers?: boolean;

  @IsOptional()
  @IsBoolean()
  listen?: boolean;

  @IsOptional()
  @IsBoolean()
  transactionPooling?: boolean;

  @IsOptional()
  @IsString()
  @IsNotEmpty()
  listenConnectionString?: string;

  @IsOptional()
  @IsWithin(LIMITS.pollIntervalMs)
  pollIntervalMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.shutdownTimeoutMs)
  shutdownTimeoutMs?: number;

  @IsOptional()
  @IsObject()
  processorDefaults?: object;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsObject({ message: 'reaper must be an options object or false' })
  reaper?: object | false;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsObject({ message: 'cleanup must be an options object or false' })
  cleanup?: object | false;

  @IsOptional()
  @IsObject()
  health?: object;

  @IsOptional()
  @IsArray()
  schedules?: object[];

  @IsOptional()
  @ValidateIf((_object, value) => typeof value !== 'boolean')
  @IsObject({ message: 'metrics must be a boolean or a metrics options object' })
  metrics?: boolean | object;

  @IsOptional()
  @IsObject()
  samples?: object;

  @IsOptional()
  @IsObject()
  heartbeat?: object;
}
