import { QueueError } from './queue.error.js';

/**
 * `waitFor` rejects with it when the awaited message does not exist: it was deleted before it
 * ended (`deleteMessage`, `clearQueue`, an operator's DELETE), or, once done, by the cleanup;
 * or there never was a message with this id.
 */
export class MessageDeletedError extends QueueError {
  constructor(
    /** The id waited for. */
    readonly messageId: string,
  ) {
    super(`message ${messageId} does not exist (deleted, or never enqueued)`);
  }
}
