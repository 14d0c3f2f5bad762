import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { decoratedMethods } from '../discovery/decorated-methods.js';
import { QueueEventListenerError } from '../errors/queue-event-listener.error.js';
import { type QueueEventName } from '../interfaces/queue-events.interface.js';
import { queueEventRule } from './queue-event-rules.js';
import { QueueEventListeners, type QueueEventListenerMetadata } from './queue-event-metadata.js';
import { QueueEvents, type QueueEventListenerDefinition } from './queue-events.js';

/**
 * Finds every `@OnQueueEvent` method on the application's providers, inherited methods
 * included, validates it, and records it in {@link QueueEvents} (the module's initializer calls
 * it before any connection opens). A wiring mistake fails the boot with a
 * {@link QueueEventListenerError}: a listener skipped in silence would never be missed until the
 * alert it was meant to raise.
 */
@Injectable()
export class QueueEventExplorer {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(QueueEvents) private readonly events: QueueEvents,
  ) {}

  discover(): void {
    this.events.record(this.explore());
  }

  explore(): QueueEventListenerDefinition[] {
    const definitions: QueueEventListenerDefinition[] = [];
    const found = decoratedMethods<QueueEventListenerMetadata>(
      this.discovery,
      this.scanner,
      (method) =>
        this.reflector.get<readonly QueueEventListenerMetadata[] | undefined>(
          QueueEventListeners.KEY,
          method,
        ),
    );
    for (const {
      wrapper,
      instance,
      methodName,
      handlerName: listenerName,
      declarations,
    } of found) {
      for (const declaration of declarations) {
        const fail = (rule: string) =>
          new QueueEventListenerError(String(declaration.event), listenerName, rule);
        const rule = queueEventRule(declaration.event, declaration.queue);
        if (rule !== undefined) throw fail(rule);
        if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
          throw fail(
            'its provider is request-scoped or transient (or depends on one); listeners must live on singleton providers, since events are emitted outside any request',
          );
        }
        const target = (instance as Record<string, unknown>)[methodName];
        if (typeof target !== 'function') {
          throw fail(`${methodName} is not a function on the provider instance`);
        }
        definitions.push(
          Object.freeze({
            event: declaration.event as QueueEventName,
            queue: declaration.queue,
            listenerName,
            listener: (payload: never) =>
              (target as (payload: never) => unknown).call(instance, payload),
          }),
        );
      }
    }
    return definitions;
  }
}
