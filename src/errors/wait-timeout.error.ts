import { QueueError } from './queue.error.js';

/**
 * `waitFor` rejects with it when the message had not ended after `timeoutMs`. The message is
 * unchanged and may still end: wait again, or read it with `getMessage`.
 */
export class WaitTimeoutError extends QueueError {
  constructor(
    /** The id waited for. */
    readonly messageId: string,
    /** How long the call waited, in ms. */
    readonly timeoutMs: number,
  ) {
    super(`message ${messageId} did not end within ${timeoutMs} ms`);
  }
}
