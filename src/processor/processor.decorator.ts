import { QueueProcessorError } from '../errors/queue-processor.error.js';
import {
  type ProcessorMessage,
  type TransactionalMessage,
} from '../interfaces/processor-message.interface.js';
import { type ProcessorOptions } from '../interfaces/processor-options.interface.js';
import { type QueueBody, type QueueResult } from '../interfaces/queue-types.interface.js';
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
 *
 * For a queue declared in {@link QueueTypes}, the compiler checks that the method takes a
 * `ProcessorMessage` of the declared body and returns (a promise of) the declared result.
 */
export function Processor<
  TBody = unknown,
  Q extends string = string,
  O extends ProcessorOptions<TBody> = ProcessorOptions<TBody>,
>(
  queue: Q,
  options: O = {} as O,
): ProcessorMethodDecorator<
  O extends { readonly transaction: true }
    ? TransactionalMessage<QueueBody<Q, never>>
    : ProcessorMessage<QueueBody<Q, never>>,
  QueueResult<Q>
> {
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

/**
 * A method decorator that accepts only handlers of `Message` (a `ProcessorMessage`, or with
 * `transaction: true` a `TransactionalMessage`) returning `Result` (or nothing), so a handler
 * and its queue's declaration cannot disagree.
 */
export type ProcessorMethodDecorator<Message, Result> = <
  Handler extends (message: Message) => ResultOrVoid<Result>,
>(
  target: object,
  propertyKey: string | symbol,
  descriptor: TypedPropertyDescriptor<Handler>,
) => void;

/** What a handler may return: its result, or nothing, possibly through a promise. */
type ResultOrVoid<Result> = Result | void | undefined | PromiseLike<Result | void | undefined>;
