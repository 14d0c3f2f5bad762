import { assertQueueName } from '../config/argument-rules.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { QUEUE_EVENT_NAMES, type QueueEventName } from '../interfaces/queue-events.interface.js';

/** Whether `event` names a queue event. */
export function isQueueEventName(event: unknown): event is QueueEventName {
  return typeof event === 'string' && (QUEUE_EVENT_NAMES as readonly string[]).includes(event);
}

/**
 * What is wrong with an `@OnQueueEvent(event, queue)` declaration, or undefined when nothing is:
 * the event must be one of {@link QUEUE_EVENT_NAMES}, the queue absent or a valid queue name.
 * Checked at boot, since a caller without the types may pass anything.
 */
export function queueEventRule(event: unknown, queue: unknown): string | undefined {
  if (!isQueueEventName(event)) {
    return `unknown event ${JSON.stringify(event)}; expected one of ${QUEUE_EVENT_NAMES.map((name) => `"${name}"`).join(', ')}`;
  }
  if (queue === undefined) return undefined;
  try {
    assertQueueName(queue);
  } catch (error) {
    if (error instanceof QueueValidationError) return `the queue ${error.rule}`;
    throw error;
  }
  return undefined;
}
