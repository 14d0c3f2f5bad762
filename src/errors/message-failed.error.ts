import { type QueueErrorRecord } from './queue-error-record.js';
import { QueueError } from './queue.error.js';

/**
 * `waitFor` rejects with it when the awaited message became a dead letter: `failed` in its queue,
 * or moved to its processor's `deadLetterQueue`. It carries the failure the processor recorded.
 */
export class MessageFailedError extends QueueError {
  constructor(
    /** The message that failed. */
    readonly messageId: string,
    /** The queue it failed in. */
    readonly queue: string,
    /** The failure recorded in its `lastError`; `null` if none was (an operator's UPDATE). */
    readonly lastError: QueueErrorRecord | null,
    /** The dead-letter queue it was moved to, if it was. */
    readonly deadLetterQueue?: string,
  ) {
    super(
      `message ${messageId} failed in queue ${queue}${
        deadLetterQueue === undefined ? '' : ` and was moved to ${deadLetterQueue}`
      }${lastError === null ? '' : `: ${lastError.name}: ${lastError.message}`}`,
    );
  }
}
