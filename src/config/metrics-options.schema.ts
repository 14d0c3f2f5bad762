import { IsObject, IsOptional, IsString, Matches, ValidateIf } from 'class-validator';
import { LIMITS } from './limits.js';
import { IsWithin } from './schema-validation.js';

/** The class-validator rules of {@link QueueMetricsOptions}; the registry's shape is checked apart. */
export class MetricsSchema {
  @IsOptional()
  @IsObject()
  registry?: object;

  @IsOptional()
  @IsString()
  // A Prometheus metric name's first characters, so every full name stays valid.
  @Matches(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, {
    message:
      'must be a Prometheus name prefix (letters, digits, _ and :, not starting with a digit)',
  })
  prefix?: string;

  @IsOptional()
  @ValidateIf((_object, value) => value !== false)
  @IsWithin(LIMITS.metricsDepthIntervalMs, 'false')
  depthIntervalMs?: number | false;
}
