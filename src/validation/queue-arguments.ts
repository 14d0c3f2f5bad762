import { QueueValidationError } from '../errors/queue-validation.error.js';
import { MESSAGE_STATES, type MessageState } from '../interfaces/queue-message.interface.js';

/** Longest queue name accepted, in UTF-16 code units. */
export const MAX_QUEUE_NAME_LENGTH = 128;
/** Longest message id accepted (ids are `text` in the seed's schema). */
export const MAX_MESSAGE_ID_LENGTH = 255;
/** Largest delay, lease or requeue delay: the statements bind it as a Postgres `integer`. */
export const MAX_SECONDS = 2_147_483_647;
/** Most messages one `leaseMany` call may claim. */
export const MAX_LEASE_BATCH = 10_000;

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

export function assertLeaseToken(value: unknown, field = 'leaseToken'): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new QueueValidationError(
      field,
      'must be the lease token (a UUID) of a message returned by leaseNext or leaseMany',
    );
  }
  return value;
}

/** A whole number within [min, max]; used for seconds and batch sizes. */
export function assertWholeNumber(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new QueueValidationError(
      field,
      `must be a finite number (got ${typeof value === 'number' ? String(value) : describeType(value)})`,
    );
  }
  if (!Number.isInteger(value)) {
    throw new QueueValidationError(field, `must be a whole number (got ${value})`);
  }
  if (value < min) {
    throw new QueueValidationError(
      field,
      min === 0 ? `must not be negative (got ${value})` : `must be at least ${min} (got ${value})`,
    );
  }
  if (value > max) {
    throw new QueueValidationError(field, `must be at most ${max} (got ${value})`);
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

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
