import { QueueValidationError } from '../errors/queue-validation.error.js';
import { MESSAGE_STATES, type MessageState } from '../interfaces/queue-message.interface.js';
import {
  LIMITS,
  MAX_KEY_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_QUEUE_NAME_LENGTH,
  type Bounds,
} from './limits.js';

/*
 * The rules of the arguments a caller passes to the queue's methods. Each throws a
 * QueueValidationError naming the field and the rule, before any statement is sent.
 */

// C0 and C1 control characters, DEL included.
const CONTROL_CHARACTER = /\p{Cc}/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function assertText(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') {
    throw new QueueValidationError(field, `must be a string (got ${describeType(value)})`);
  }
  if (value.length === 0) {
    throw new QueueValidationError(field, 'must not be empty');
  }
  if (value.length > maxLength) {
    throw new QueueValidationError(
      field,
      `must be at most ${maxLength} characters (got ${value.length})`,
    );
  }
  if (CONTROL_CHARACTER.test(value)) {
    throw new QueueValidationError(field, 'must not contain control characters');
  }
  if (!value.isWellFormed()) {
    throw new QueueValidationError(field, 'must be well-formed Unicode (no lone surrogates)');
  }
  return value;
}

/** A queue name: 1–128 printable characters, no surrounding white space. */
export function assertQueueName(value: unknown, field = 'queue'): string {
  const name = assertText(value, field, MAX_QUEUE_NAME_LENGTH);
  if (name.trim() !== name) {
    throw new QueueValidationError(field, 'must not start or end with white space');
  }
  return name;
}

export function assertMessageId(value: unknown, field = 'id'): string {
  return assertText(value, field, MAX_MESSAGE_ID_LENGTH);
}

/** A `uniqueKey` or `groupKey`: the rules of a message id. */
export function assertKey(value: unknown, field: string): string {
  return assertText(value, field, MAX_KEY_LENGTH);
}

export function assertLeaseToken(value: unknown, field = 'leaseToken'): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new QueueValidationError(
      field,
      'must be the lease token (a UUID) of a message returned by leaseNext or leaseMany',
    );
  }
  return value;
}

/** A whole number within `bounds`: seconds, attempts, batch sizes. */
export function assertWholeNumber(value: unknown, field: string, bounds: Bounds): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new QueueValidationError(
      field,
      `must be a finite number (got ${typeof value === 'number' ? String(value) : describeType(value)})`,
    );
  }
  if (!Number.isInteger(value)) {
    throw new QueueValidationError(field, `must be a whole number (got ${value})`);
  }
  if (value < bounds.min) {
    throw new QueueValidationError(
      field,
      bounds.min === 0
        ? `must not be negative (got ${value})`
        : `must be at least ${bounds.min} (got ${value})`,
    );
  }
  if (value > bounds.max) {
    throw new QueueValidationError(field, `must be at most ${bounds.max} (got ${value})`);
  }
  return value;
}

export function assertMessageState(value: unknown, field = 'state'): MessageState {
  if (typeof value !== 'string' || !(MESSAGE_STATES as readonly string[]).includes(value)) {
    throw new QueueValidationError(field, `must be one of ${MESSAGE_STATES.join(', ')}`);
  }
  return value as MessageState;
}

/** The options argument itself: absent, or a plain object. */
export function assertOptionsObject<T extends object>(value: T | undefined, field: string): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new QueueValidationError(field, 'must be an object');
  }
  return value;
}

/**
 * An array argument of at most `maxLength` items; `Array.isArray` alone would narrow a typed
 * readonly array to `any[]`.
 */
export function assertArray<T>(
  value: readonly T[],
  field: string,
  maxLength: number,
): readonly T[] {
  if (!isArray(value)) {
    throw new QueueValidationError(field, `must be an array (got ${describeType(value)})`);
  }
  if (value.length > maxLength) {
    throw new QueueValidationError(
      field,
      `must hold at most ${maxLength} items (got ${value.length}); split it into several calls`,
    );
  }
  return value;
}

function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

/**
 * A cleanup retention in days as whole seconds, or undefined for `false` (keep everything).
 * The module's `cleanup` option and `QueueService.cleanup` share this rule.
 */
export function retentionSeconds(days: unknown, field: string): number | undefined {
  if (days === false) return undefined;
  const { min, max } = LIMITS.retentionDays;
  if (typeof days !== 'number' || !Number.isFinite(days) || days < min || days > max) {
    throw new QueueValidationError(
      field,
      `must be a number of days from ${min} to ${max}, or false (got ${typeof days === 'number' ? days : describeType(days)})`,
    );
  }
  return Math.round(days * 86_400);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
