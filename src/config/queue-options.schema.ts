import {
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';

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
  @IsInt()
  @Min(0)
  @Max(1000)
  poolMinSize?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  poolMaxSize?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(600_000)
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
  @IsInt()
  @Min(1)
  @Max(256 * 1024 * 1024)
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
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  pollIntervalMs?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
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
}
