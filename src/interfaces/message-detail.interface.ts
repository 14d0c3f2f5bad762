import { type QueueMessage } from './queue-message.interface.js';

/**
 * A message read by id (`QueueService.getMessage`): as stored, with what its handler left behind.
 * The types of `body` and `result` are the caller's claim; they are not checked.
 */
export interface QueueMessageDetail<T = unknown, R = unknown> extends QueueMessage<T> {
  /**
   * What the handler returned, stored when the message was acked (`done`); `null` until then,
   * when it returned `undefined` (or `null`), and for messages the Python backend acked.
   */
  readonly result: R | null;
  /** The last value the handler passed to `message.progress()`; `null` if it never did. */
  readonly progress: unknown;
}

/** `QueueService.waitFor`'s options. */
export interface WaitForOptions {
  /**
   * How long to wait for the message to end before rejecting with `WaitTimeoutError`, in ms:
   * 1 to 86,400,000 (a day). Default 60,000.
   */
  readonly timeoutMs?: number;
}
