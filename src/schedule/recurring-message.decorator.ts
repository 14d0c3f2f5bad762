import { QueueProcessorError } from '../errors/queue-processor.error.js';
import { type RecurringMessageOptions } from '../interfaces/schedule-options.interface.js';
import {
  RECURRING_MESSAGE_METADATA,
  type RecurringMessageMetadata,
} from './recurring-message-metadata.js';

/**
 * Declares a recurring message for the `@Processor` of the same method: each tick of `cron`
 * enqueues one message (body `options.body`) into that processor's queue, once across every
 * replica.
 *
 * ```ts
 * @Injectable()
 * export class Reports {
 *   @RecurringMessage('nightly-report', { cron: '0 30 2 * * *', timeZone: 'Europe/Paris' })
 *   @Processor('reports.nightly')
 *   async run(message: ProcessorMessage): Promise<void> {
 *     const tick = scheduledTickOf(message); // { schedule: 'nightly-report', tickAt: Date }
 *   }
 * }
 * ```
 *
 * Declarations are found at boot like processors, checked (a wrong one stops the boot with a
 * `QueueProcessorError`) and upserted into `<table>_schedules` as the module options'
 * `schedules` are. `name` identifies the schedule in the table; `options.queue` is needed only
 * when the method has several `@Processor`s.
 */
export function RecurringMessage<TBody = unknown>(
  name: string,
  options: RecurringMessageOptions<TBody>,
): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const method: unknown = descriptor?.value;
    if (typeof method !== 'function') {
      const owner = typeof target === 'function' ? target.name : target.constructor.name;
      throw new QueueProcessorError(
        options?.queue ?? '',
        `${owner}.${String(propertyKey)}`,
        `@RecurringMessage(${JSON.stringify(name)}) must decorate a method (not a property, getter or class)`,
      );
    }
    const declared = (Reflect.getMetadata(RECURRING_MESSAGE_METADATA, method) ??
      []) as RecurringMessageMetadata[];
    Reflect.defineMetadata(
      RECURRING_MESSAGE_METADATA,
      [...declared, { name, options: options as RecurringMessageOptions }],
      method,
    );
  };
}
