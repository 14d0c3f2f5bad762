import { QueueError } from './queue.error.js';

/**
 * A handler ran past its processor's `timeoutMs`. It is the `signal.reason` the handler sees and
 * the `lastError` recorded: the attempt counts as failed (retried after the backoff, or a dead
 * letter on the last attempt) and the slot frees, even if the handler ignores its signal.
 */
export class HandlerTimeoutError extends QueueError {
  constructor(
    /** The message the handler was running. */
    readonly messageId: string,
    /** The processor's `timeoutMs`. */
    readonly timeoutMs: number,
  ) {
    super(`the handler of message ${messageId} ran past its timeout of ${timeoutMs} ms`);
  }
}
