import { IsBoolean, IsOptional } from 'class-validator';
import { LIMITS } from './limits.js';
import { IsWithin } from './schema-validation.js';

/** The class-validator rules of {@link QueueSamplesOptions}. */
export class SamplesSchema {
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @IsOptional()
  @IsWithin(LIMITS.sampleRetentionHours)
  retentionHours?: number;
}

/** The class-validator rules of {@link QueueHeartbeatOptions}. */
export class HeartbeatSchema {
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @IsOptional()
  @IsWithin(LIMITS.heartbeatIntervalSeconds)
  intervalSeconds?: number;
}
