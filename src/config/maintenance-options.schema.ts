import {
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';

export class ReaperSchema {
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  intervalMs?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  batchSize?: number;
}

export class CleanupSchema {
  @IsOptional()
  @IsString()
  cron?: string;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  doneRetentionDays?: number | false;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  failedRetentionDays?: number | false;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  batchSize?: number;
}

export class ThresholdsSchema {
  @IsOptional()
  @IsInt()
  @Min(0)
  maxReadyDepth?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  maxOldestReadyAgeSeconds?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  maxFailed?: number;
}

export class HealthSchema extends ThresholdsSchema {
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(60_000)
  timeoutMs?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000_000)
  countLimit?: number;

  @IsOptional()
  @IsObject()
  queues?: object;
}
