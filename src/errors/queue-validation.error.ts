import { QueueError } from './queue.error.js';

/**
 * An argument given to a {@link QueueService} method broke a rule. Nothing was written.
 *
 * `field` names the argument (for a body, the JSON path inside it, such as `body.items[3].name`),
 * `rule` says what it must be.
 */
export class QueueValidationError extends QueueError {
  constructor(
    /** The argument or JSON path that was rejected, e.g. `queue`, `delaySeconds`, `bodies[2].title`. */
    readonly field: string,
    /** The rule it broke, e.g. `must be a non-negative integer`. */
    readonly rule: string,
  ) {
    super(`Invalid ${field}: ${rule}`);
  }
}
