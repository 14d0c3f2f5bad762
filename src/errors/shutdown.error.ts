import { QueueError } from './queue.error.js';

/**
 * The `signal.reason` a handler sees when the application shut down and `shutdownTimeoutMs`
 * passed before the handler finished. Its message is already back in `ready`. Also what a
 * pending `waitFor` rejects with when the application shuts down (the message is unchanged).
 */
export class ShutdownError extends QueueError {
  constructor(
    /** The message the handler was running. */
    readonly messageId: string,
  ) {
    super('the worker is shutting down and ran out of time');
  }
}
