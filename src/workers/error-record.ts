import { BodyValidationError } from '../errors/body-validation.error.js';
import { maskUrlPasswords } from '../errors/describe-error.js';

const MAX_MESSAGE = 2_000;
const MAX_STACK = 4_000;

/**
 * The JSON stored in `last_error` for a failure. Text is bounded and made storable: JSONB
 * refuses `\u0000` and lone surrogates, and a handler's error message may hold anything. Passwords
 * it quotes are masked, as in the log line: `lastError` is read by dashboards and HTTP endpoints.
 * A body that failed its DTO keeps the failing properties as `details`. `failedAt` is added by
 * the statement, from the database clock.
 */
export function errorRecordJson(error: unknown, attempt: number): string {
  const details = error instanceof BodyValidationError ? error.failures : undefined;
  const name = error instanceof Error ? error.name : error === null ? 'null' : typeof error;
  const message = error instanceof Error ? error.message : safeString(error);
  const stack = error instanceof Error ? error.stack : undefined;
  return JSON.stringify({
    name: storable(name, 200),
    message: storable(message, MAX_MESSAGE),
    ...(stack === undefined ? {} : { stack: storable(stack, MAX_STACK) }),
    attempt,
    ...(details === undefined ? {} : { details }),
  });
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function storable(text: string, max: number): string {
  const masked = maskUrlPasswords(text);
  const bounded = masked.length > max ? `${masked.slice(0, max)}…` : masked;
  return bounded.replaceAll('\u0000', '\\u0000').toWellFormed();
}
