import { QueueError } from './queue.error.js';

/** One property of a message body that failed class-validator rules. */
export interface BodyValidationFailure {
  /** Path of the property, e.g. `author.name`. */
  readonly property: string;
  /** class-validator's messages by constraint name. */
  readonly constraints: Readonly<Record<string, string>>;
}

/**
 * A message body failed its processor's `body` DTO. The message is a poison message: it is
 * dead-lettered at once, with `failures` recorded in `lastError.details`.
 */
export class BodyValidationError extends QueueError {
  constructor(
    /** One entry per failing property. */
    readonly failures: readonly BodyValidationFailure[],
  ) {
    super(
      `body failed validation: ${failures
        .map((failure) => Object.values(failure.constraints).join(', '))
        .join('; ')}`,
    );
  }
}
