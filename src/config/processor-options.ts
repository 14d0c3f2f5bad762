import { QueueValidationError } from '../errors/queue-validation.error.js';
import {
  type BackoffOptions,
  type BodyClass,
  type ProcessorDefaults,
  type ProcessorOptions,
} from '../interfaces/processor-options.interface.js';
import { assertQueueName } from './argument-rules.js';
import { DEFAULT_PROCESSOR_OPTIONS } from './defaults.js';
import {
  BackoffSchema,
  ProcessorOptionsSchema,
  RateLimitSchema,
} from './processor-options.schema.js';
import { firstViolation, type SchemaViolation } from './schema-validation.js';

export type ResolvedBackoff =
  | {
      readonly type: 'exponential';
      readonly baseSeconds: number;
      readonly maxSeconds: number;
      readonly jitter: boolean;
    }
  | { readonly type: 'fixed'; readonly delaySeconds: number };

/** A rate limit with its scope resolved. */
export interface ResolvedRateLimit {
  readonly max: number;
  readonly perSeconds: number;
  readonly scope: 'queue' | 'group';
}

/** A processor's options with every default applied. */
export interface ResolvedProcessorOptions {
  readonly concurrency: number;
  readonly prefetch: number | 'auto';
  readonly prefetchBytes: number;
  readonly leaseSeconds: number;
  readonly maxAttempts: number;
  /** Undefined: no limit. */
  readonly timeoutMs: number | undefined;
  readonly backoff: ResolvedBackoff;
  readonly body: BodyClass<unknown> | undefined;
  readonly deadLetterQueue: string | undefined;
  readonly shareQueue: boolean;
  /** Undefined: no limit across replicas. */
  readonly globalConcurrency: number | undefined;
  /** Undefined: groups are not limited. */
  readonly groupConcurrency: number | undefined;
  /** Undefined: no rate limit. */
  readonly rateLimit: ResolvedRateLimit | undefined;
  /** Each handler runs in a transaction that commits its ack. */
  readonly transaction: boolean;
  /** A completed message nothing looks for is deleted, not kept `done`. */
  readonly removeOnComplete: boolean;
}

/** Whether a processor's leases go through flow control (a lock and the limits' counts). */
export function isFlowControlled(
  options: Pick<ResolvedProcessorOptions, 'globalConcurrency' | 'groupConcurrency' | 'rateLimit'>,
): boolean {
  return (
    options.globalConcurrency !== undefined ||
    options.groupConcurrency !== undefined ||
    options.rateLimit !== undefined
  );
}

/**
 * Validates options (processor's or the module's defaults) and returns the first broken rule,
 * with the property path (`backoff.baseSeconds`), or undefined.
 */
export function processorOptionsViolation(
  options: ProcessorOptions | ProcessorDefaults,
): SchemaViolation | undefined {
  if (options === null || typeof options !== 'object') {
    return { property: 'options', rule: 'must be an object' };
  }
  const violation = firstViolation(ProcessorOptionsSchema, options);
  if (violation !== undefined) return violation;
  if ('body' in options && options.body !== undefined && typeof options.body !== 'function') {
    return { property: 'body', rule: 'must be a class (a class-validator DTO)' };
  }
  if (options.deadLetterQueue !== undefined) {
    const { deadLetterQueue } = options;
    const broken = brokenRule(() => assertQueueName(deadLetterQueue, 'deadLetterQueue'));
    if (broken !== undefined) return { property: broken.field, rule: broken.rule };
  }
  if ('rateLimit' in options && options.rateLimit !== undefined) {
    if (options.rateLimit === null || typeof options.rateLimit !== 'object') {
      return { property: 'rateLimit', rule: 'must be an object' };
    }
    const rateViolation = firstViolation(RateLimitSchema, options.rateLimit);
    if (rateViolation !== undefined) {
      return { property: `rateLimit.${rateViolation.property}`, rule: rateViolation.rule };
    }
  }
  const limited =
    ('globalConcurrency' in options && options.globalConcurrency !== undefined) ||
    ('groupConcurrency' in options && options.groupConcurrency !== undefined) ||
    ('rateLimit' in options && options.rateLimit !== undefined);
  if (limited && options.prefetch !== undefined && options.prefetch !== 0) {
    return {
      property: 'prefetch',
      rule: 'must be 0 (or unset) with globalConcurrency, groupConcurrency or rateLimit: a prefetched message holds a lease that counts against them',
    };
  }
  if (options.backoff !== undefined) {
    if (options.backoff === null || typeof options.backoff !== 'object') {
      return { property: 'backoff', rule: 'must be an object' };
    }
    const backoffViolation = firstViolation(BackoffSchema, options.backoff);
    if (backoffViolation !== undefined) {
      return { property: `backoff.${backoffViolation.property}`, rule: backoffViolation.rule };
    }
  }
  return undefined;
}

/** Applies processor options over the module defaults over the built-in defaults. */
function resolveProcessorOptions(
  options: ProcessorOptions,
  defaults: ProcessorDefaults,
): ResolvedProcessorOptions {
  const { rateLimit } = options;
  const flow = {
    globalConcurrency: options.globalConcurrency,
    groupConcurrency: options.groupConcurrency,
    rateLimit:
      rateLimit === undefined
        ? undefined
        : Object.freeze({
            max: rateLimit.max,
            perSeconds: rateLimit.perSeconds,
            scope: rateLimit.scope ?? 'queue',
          }),
  };
  return Object.freeze({
    ...flow,
    concurrency:
      options.concurrency ?? defaults.concurrency ?? DEFAULT_PROCESSOR_OPTIONS.concurrency,
    // Flow-controlled leases take free slots only (see `ProcessorOptions.prefetch`).
    prefetch: isFlowControlled(flow)
      ? 0
      : (options.prefetch ?? defaults.prefetch ?? DEFAULT_PROCESSOR_OPTIONS.prefetch),
    prefetchBytes:
      options.prefetchBytes ?? defaults.prefetchBytes ?? DEFAULT_PROCESSOR_OPTIONS.prefetchBytes,
    leaseSeconds:
      options.leaseSeconds ?? defaults.leaseSeconds ?? DEFAULT_PROCESSOR_OPTIONS.leaseSeconds,
    maxAttempts:
      options.maxAttempts ?? defaults.maxAttempts ?? DEFAULT_PROCESSOR_OPTIONS.maxAttempts,
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    backoff: resolveBackoff(options.backoff ?? defaults.backoff),
    body: options.body,
    deadLetterQueue: options.deadLetterQueue ?? defaults.deadLetterQueue,
    shareQueue: options.shareQueue ?? false,
    transaction: options.transaction ?? false,
    removeOnComplete: options.removeOnComplete ?? defaults.removeOnComplete ?? false,
  });
}

function resolveBackoff(backoff: BackoffOptions | undefined): ResolvedBackoff {
  if (backoff === undefined) return DEFAULT_PROCESSOR_OPTIONS.backoff;
  if (backoff.type === 'fixed')
    return Object.freeze({ type: 'fixed', delaySeconds: backoff.delaySeconds });
  const defaults = DEFAULT_PROCESSOR_OPTIONS.backoff;
  return Object.freeze({
    type: 'exponential',
    baseSeconds: backoff.baseSeconds ?? defaults.baseSeconds,
    maxSeconds: backoff.maxSeconds ?? defaults.maxSeconds,
    jitter: backoff.jitter ?? defaults.jitter,
  });
}

/** A `@Processor` declaration checked and resolved, or the first rule it broke. */
export type ProcessorResolution =
  | { readonly ok: true; readonly queue: string; readonly options: ResolvedProcessorOptions }
  | { readonly ok: false; readonly rule: string };

/**
 * Checks a `@Processor(queue, options)` declaration and applies the module's defaults. Pure, so
 * discovery only has to name the handler in the error it throws.
 */
export function resolveProcessor(
  queue: unknown,
  options: ProcessorOptions,
  defaults: ProcessorDefaults,
): ProcessorResolution {
  const broken = brokenRule(() => assertQueueName(queue));
  if (broken !== undefined) return { ok: false, rule: `queue name ${broken.rule}` };
  const violation = processorOptionsViolation(options);
  if (violation !== undefined) {
    return { ok: false, rule: `option "${violation.property}" ${violation.rule}` };
  }
  const resolved = resolveProcessorOptions(options, defaults);
  if (resolved.deadLetterQueue === queue) {
    return { ok: false, rule: 'deadLetterQueue must differ from the queue itself' };
  }
  return { ok: true, queue: queue as string, options: resolved };
}

/** The argument rule that `check` found broken, as a value instead of a throw. */
function brokenRule(check: () => unknown): QueueValidationError | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    if (error instanceof QueueValidationError) return error;
    throw error;
  }
}
