import { type BodyValidationFailure } from '../interfaces/queue-message.interface.js';
import { QueueError } from './queue.error.js';

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
