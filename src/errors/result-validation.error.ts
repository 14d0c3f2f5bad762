import { QueueError } from './queue.error.js';

/**
 * A handler returned a value that cannot be stored as its message's result: not JSON data (a
 * function, a BigInt, a cycle, …) or larger than `maxBodyBytes` as JSON. The same code would
 * return the same value again, so the message is not retried: it becomes a dead letter at once,
 * with this error in its `lastError`.
 */
export class ResultValidationError extends QueueError {
  constructor(
    /** The JSON path of the offending value, from `result`, e.g. `result.items[3]`. */
    readonly field: string,
    /** The rule it broke. */
    readonly rule: string,
  ) {
    super(`the handler's return value cannot be stored: ${field} ${rule}`);
  }
}
