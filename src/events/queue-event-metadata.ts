import { DiscoveryService } from '@nestjs/core';

/** One `@OnQueueEvent` declaration, as the decorator stored it on its method. */
export interface QueueEventListenerMetadata {
  /** Checked at boot, not here: a caller without the types may pass anything. */
  readonly event: string;
  readonly queue: string | undefined;
}

/**
 * The discoverable decorator `@OnQueueEvent` is built on. It holds every declaration of a
 * method as one list, since Nest's metadata keeps one value per key and a method may listen to
 * several events.
 */
export const QueueEventListeners =
  DiscoveryService.createDecorator<readonly QueueEventListenerMetadata[]>();
