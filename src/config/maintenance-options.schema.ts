import { IsNumber, IsObject, IsOptional, IsString, Max, Min, ValidateIf } from 'class-validator';
import { LIMITS } from './limits.js';
import { IsWithin } from './schema-validation.js';

export class ReaperSchema {
  @IsOptional()
  @IsWithin(LIMITS.reaperIntervalMs)
  intervalMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.maintenanceBatch)
  batchSize?: number;
}

export class CleanupSchema {
  @IsOptional()
  @IsString()
  cron?: string;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(LIMITS.retentionDays.min)
  @Max(LIMITS.retentionDays.max)
  doneRetentionDays?: number | false;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(LIMITS.retentionDays.min)
  @Max(LIMITS.retentionDays.max)
  failedRetentionDays?: number | false;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(LIMITS.retentionDays.min)
  @Max(LIMITS.retentionDays.max)
  archiveRetentionDays?: number | false;

  @IsOptional()
  @IsWithin(LIMITS.maintenanceBatch)
  batchSize?: number;
}

export class ThresholdsSchema {
  @IsOptional()
  @IsWithin(LIMITS.readyDepthThreshold)
  maxReadyDepth?: number;

  @IsOptional()
  @IsWithin(LIMITS.threshold)
  maxOldestReadyAgeSeconds?: number;

  @IsOptional()
  @IsWithin(LIMITS.threshold)
  maxFailed?: number;
}

export class HealthSchema extends ThresholdsSchema {
  @IsOptional()
  @IsWithin(LIMITS.healthTimeoutMs)
  timeoutMs?: number;

  @IsOptional()
  @IsWithin(LIMITS.healthCountLimit)
  countLimit?: number;

  @IsOptional()
  @IsObject()
  queues?: object;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsWithin(LIMITS.threshold, 'false')
  maxHorizonAgeSeconds?: number | false;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsWithin(LIMITS.threshold, 'false')
  maxDeadTuples?: number | false;
}
