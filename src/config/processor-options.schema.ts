import { IsBoolean, IsIn, IsOptional, IsString, ValidateIf } from 'class-validator';
import { LIMITS } from './limits.js';
import { IsWithin } from './schema-validation.js';

/** class-validator rules of `ProcessorOptions` (and of the module's `processorDefaults`). */
export class ProcessorOptionsSchema {
  @IsOptional()
  @IsWithin(LIMITS.concurrency)
  concurrency?: number;

  @IsOptional()
  @ValidateIf((_object, value) => value !== 'auto')
  @IsWithin(LIMITS.prefetch, "'auto'")
  prefetch?: number | 'auto';

  @IsOptional()
  @IsWithin(LIMITS.prefetchBytes)
  prefetchBytes?: number;

  @IsOptional()
  @IsWithin(LIMITS.leaseSeconds)
  leaseSeconds?: number;

  @IsOptional()
  @IsWithin(LIMITS.maxAttempts)
  maxAttempts?: number;

  @IsOptional()
  @IsWithin(LIMITS.handlerTimeoutMs)
  timeoutMs?: number;

  @IsOptional()
  backoff?: object;

  @IsOptional()
  @ValidateIf((_object, value) => value !== undefined)
  body?: unknown;

  @IsOptional()
  @IsString()
  deadLetterQueue?: string;

  @IsOptional()
  @IsBoolean()
  shareQueue?: boolean;

  @IsOptional()
  @IsWithin(LIMITS.globalConcurrency)
  globalConcurrency?: number;

  @IsOptional()
  @IsWithin(LIMITS.groupConcurrency)
  groupConcurrency?: number;

  @IsOptional()
  rateLimit?: object;

  @IsOptional()
  @IsBoolean()
  transaction?: boolean;

  @IsOptional()
  @IsBoolean()
  removeOnComplete?: boolean;
}

/** Rules of `RateLimitOptions`. */
export class RateLimitSchema {
  @IsWithin(LIMITS.rateLimitMax)
  max!: number;

  @IsWithin(LIMITS.rateLimitPerSeconds)
  perSeconds!: number;

  @IsOptional()
  @IsIn(['queue', 'group'])
  scope?: string;
}

/** Rules of `BackoffOptions`; which fields apply depends on `type`. */
export class BackoffSchema {
  @IsIn(['exponential', 'fixed'])
  type!: string;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsWithin(LIMITS.backoffBaseSeconds)
  baseSeconds?: number;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsWithin(LIMITS.backoffMaxSeconds)
  maxSeconds?: number;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsBoolean()
  jitter?: boolean;

  @ValidateIf((object: BackoffSchema) => object.type === 'fixed')
  @IsWithin(LIMITS.delaySeconds)
  delaySeconds?: number;
}
