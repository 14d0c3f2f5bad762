import { QueueError } from './queue.error.js';

/**
 * An `@OnQueueEvent` is wired wrongly: an unknown event name, a bad queue name, a request-scoped
 * provider, a decorated non-method. The application does not boot; a listener is never skipped
 * silently.
 */
export class QueueEventListenerError extends QueueError {
  constructor(
    /** The event the listener was declared for. */
    readonly event: string,
    /** `Class.method` of the listener. */
    readonly listener: string,
    /** What is wrong and how to fix it. */
    readonly rule: string,
  ) {
    super(`@OnQueueEvent(${JSON.stringify(event)}) on ${listener}: ${rule}`);
  }
}
