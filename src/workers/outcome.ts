import { LIMITS } from '../config/limits.js';
import { type ResolvedProcessorOptions } from '../config/processor-options.js';
import { SnoozeError } from '../errors/snooze.error.js';
import { ResultValidationError } from '../errors/result-validation.error.js';
import { UnrecoverableError } from '../errors/unrecoverable.error.js';
import { backoffSeconds } from './backoff.js';

/** What becomes of a message once its handler has run. */
export type Outcome =
  | { readonly kind: 'ack' }
  /** Due again later without spending an attempt. */
  | { readonly kind: 'snooze'; readonly delaySeconds: number }
  /** Due again after the backoff, the failure recorded. */
  | { readonly kind: 'retry'; readonly delaySeconds: number; readonly error: unknown }
  /** No attempts left, or never retryable: a dead letter, the failure recorded. */
  | { readonly kind: 'deadLetter'; readonly error: unknown };

/**
 * How a handler ended: it resolved (with `value`, absent when it resolved `undefined`), or it
 * threw `error`.
 */
export type HandlerResult =
  { readonly ok: true; readonly value?: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * The rule that settles a message after attempt `attempts`: a resolved handler acks; a
 * `SnoozeError` with a valid delay snoozes; an `UnrecoverableError` or a `ResultValidationError`
 * (a return value that cannot be stored: the same code would return it again), or any failure of the last
 * allowed attempt, dead-letters; any other failure retries after the processor's backoff.
 */
export function outcomeOf(
  result: HandlerResult,
  attempts: number,
  options: Pick<ResolvedProcessorOptions, 'maxAttempts' | 'backoff'>,
  random: () => number = Math.random,
): Outcome {
  if (result.ok) return { kind: 'ack' };
  const { error } = result;
  if (error instanceof SnoozeError && isValidDelay(error.delaySeconds)) {
    return { kind: 'snooze', delaySeconds: error.delaySeconds };
  }
  if (
    error instanceof UnrecoverableError ||
    error instanceof ResultValidationError ||
    attempts >= options.maxAttempts
  ) {
    return { kind: 'deadLetter', error };
  }
  return { kind: 'retry', delaySeconds: backoffSeconds(options.backoff, attempts, random), error };
}

/**
 * A lease taken more often than `maxAttempts` allows: the earlier attempts died with their
 * worker (crash, stall past the lease) before they could record a failure.
 */
export function isOverrun(attempts: number, maxAttempts: number): boolean {
  return attempts > maxAttempts;
}

function isValidDelay(seconds: unknown): seconds is number {
  const { min, max } = LIMITS.delaySeconds;
  return Number.isInteger(seconds) && (seconds as number) >= min && (seconds as number) <= max;
}
