import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';

/** class-validator rules of `ProcessorOptions` (and of the module's `processorDefaults`). */
export class ProcessorOptionsSchema {
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  concurrency?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(9_000)
  prefetch?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  leaseSeconds?: number;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxAttempts?: number;

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
}

/** Rules of `BackoffOptions`; which fields apply depends on `type`. */
export class BackoffSchema {
  @IsIn(['exponential', 'fixed'])
  type!: string;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(86_400)
  baseSeconds?: number;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  maxSeconds?: number;

  @ValidateIf((object: BackoffSchema) => object.type === 'exponential')
  @IsOptional()
  @IsBoolean()
  jitter?: boolean;

  @ValidateIf((object: BackoffSchema) => object.type === 'fixed')
  @IsInt()
  @Min(0)
  @Max(2_147_483_647)
  delaySeconds?: number;
}
