import { Inject } from '@nestjs/common';

/**
 * The injection token of the {@link QueueProducer} that `QueueModule.forFeature` provides for
 * `queue`, for `moduleRef.get(getQueueToken('ingest.main'))` and custom providers.
 */
export function getQueueToken(queue: string): string {
  return `fetchcraft-queue:producer:${queue}`;
}

/**
 * Injects the {@link QueueProducer} of `queue`, which the enclosing module must have declared
 * with `QueueModule.forFeature([queue])`.
 */
export const InjectQueue = (queue: string): PropertyDecorator & ParameterDecorator =>
  Inject(getQueueToken(queue));
