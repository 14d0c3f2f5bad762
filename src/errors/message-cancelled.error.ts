import { QueueError } from './queue.error.js';

/**
 * The `signal.reason` a handler sees when its message was cancelled (`QueueService.cancel`) while
 * it ran. The message is settled `cancelled` at once, whatever the handler does next: not a
 * failure, never retried, nothing recorded in `lastError`; the slot frees even if the handler
 * ignores its signal. A handler may also throw it itself to end its message as `cancelled`.
 * `waitFor` rejects with it when the awaited message was cancelled.
 */
export class MessageCancelledError extends QueueError {
  constructor(
    /** The cancelled message. */
    readonly messageId: string,
  ) {
    super(`message ${messageId} was cancelled`);
  }
}
