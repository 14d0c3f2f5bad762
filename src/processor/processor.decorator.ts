import { QueueProcessorError } from '../errors/queue-processor.error.js';
import { type ProcessorOptions } from '../interfaces/processor-options.interface.js';
import { PROCESSOR_METADATA, type ProcessorMetadata } from './processor-metadata.js';

/**
 * Marks a provider method as the handler of `queue`. Handlers are discovered at boot and run by
 * workers started at application bootstrap:
 *
 * ```ts
 * @Injectable()
 * export class IngestHandlers {
 *   @Processor('ingest.main', { concurrency: 8, maxAttempts: 5, body: IngestDocument })
 *   async ingest(message: ProcessorMessage<IngestDocument>): Promise<void> {}
 * }
 * ```
 *
 * The handler resolves to ack the message and throws to retry it (with backoff, until
 * `maxAttempts`); `UnrecoverableError` dead-letters at once, `SnoozeError` retries later without
 * spending an attempt. Options are validated at boot.
 */
export function Processor<TBody = unknown>(
  queue: string,
  options: ProcessorOptions<TBody> = {},
): MethodDecorator {
  return (target, propertyKey, descriptor) => {
    const method: unknown = descriptor?.value;
    if (typeof method !== 'function') {
      const owner = typeof target === 'function' ? target.name : target.constructor.name;
      throw new QueueProcessorError(
        queue,
        `${owner}.${String(propertyKey)}`,
        'must decorate a method (not a property, getter or class)',
      );
    }
    const declared = (Reflect.getMetadata(PROCESSOR_METADATA, method) ?? []) as ProcessorMetadata[];
    Reflect.defineMetadata(
      PROCESSOR_METADATA,
      [...declared, { queue, options: options as ProcessorOptions }],
      method,
    );
  };
}
