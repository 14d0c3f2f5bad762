import { QueueEventListenerError } from '../errors/queue-event-listener.error.js';
import {
  type QueueEventListener,
  type QueueEventName,
} from '../interfaces/queue-events.interface.js';
import { QueueEventListeners, type QueueEventListenerMetadata } from './queue-event-metadata.js';

/**
 * Marks a provider method as a listener of a queue event, of every queue or of `queue` only.
 * Listeners are discovered at boot, like processors; the method receives the event's payload
 * ({@link QueueEventMap}), typed by the event name:
 *
 * ```ts
 * @Injectable()
 * export class IngestAudit {
 *   @OnQueueEvent('dead-lettered', 'ingest.main')
 *   deadLettered(event: QueueDeadLetteredEvent): void {}
 * }
 * ```
 *
 * An event is heard in the process that settled the message (the worker that ran it, the
 * reaper that reaped it), after the statement that settled it. A listener that throws or
 * rejects is logged; it changes nothing for the message or the other listeners.
 */
export function OnQueueEvent<E extends QueueEventName>(
  event: E,
  queue?: string,
): <M extends QueueEventListener<E>>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void {
  return (target, propertyKey, descriptor) => {
    const method: unknown = descriptor.value;
    if (typeof method !== 'function') {
      const owner = typeof target === 'function' ? target.name : target.constructor.name;
      throw new QueueEventListenerError(
        event,
        `${owner}.${String(propertyKey)}`,
        'must decorate a method (not a property, getter or class)',
      );
    }
    const declared = (Reflect.getMetadata(QueueEventListeners.KEY, method) ??
      []) as readonly QueueEventListenerMetadata[];
    QueueEventListeners([...declared, { event, queue }])(target, propertyKey, descriptor);
  };
}
