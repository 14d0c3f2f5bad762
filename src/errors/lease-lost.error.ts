import { QueueError } from './queue.error.js';

/**
 * The `signal.reason` a handler sees when its worker lost the message's lease: the lease ran out
 * (a stalled event loop, a database outage longer than the lease) and the reaper or another
 * worker took the message. Whatever the handler does next is not recorded; stop early.
 */
export class LeaseLostError extends QueueError {
  constructor(
    /** The message whose lease was lost. */
    readonly messageId: string,
  ) {
    super(`the lease of message ${messageId} was lost`);
  }
}
