import { QueueError } from './queue.error.js';

/**
 * Recorded in `lastError` of a dead letter whose last allowed attempt never finished: its worker
 * crashed or stalled past the lease. A worker records it when such a message is leased again; the
 * reaper when the last attempt's lease expires (under the same name, {@link AttemptsExhaustedError.name}).
 */
export class AttemptsExhaustedError extends QueueError {
  constructor(
    /** How many times the message was leased, the current lease included. */
    readonly attempts: number,
    /** The processor's `maxAttempts`. */
    readonly maxAttempts: number,
  ) {
    super(
      `leased ${attempts} times with maxAttempts ${maxAttempts}; the last attempts did not finish (worker crash or lost lease)`,
    );
  }
}
