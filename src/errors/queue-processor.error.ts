import { QueueError } from './queue.error.js';

/**
 * A `@Processor` is wired wrongly: bad options, two handlers for one queue, a request-scoped
 * provider, a decorated non-method. The application does not boot; nothing is skipped silently.
 */
export class QueueProcessorError extends QueueError {
  constructor(
    /** The queue the processor was declared for. */
    readonly queue: string,
    /** `Class.method` of the handler. */
    readonly handler: string,
    /** What is wrong and how to fix it. */
    readonly rule: string,
  ) {
    super(`@Processor(${JSON.stringify(queue)}) on ${handler}: ${rule}`);
  }
}
