import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { decoratedMethods } from '../discovery/decorated-methods.js';
import { resolveProcessor } from '../config/processor-options.js';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueProcessorError } from '../errors/queue-processor.error.js';
import { type ProcessorMessage } from '../interfaces/processor-message.interface.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { type ProcessorDefinition } from './processor-definition.js';
import { PROCESSOR_METADATA, type ProcessorMetadata } from './processor-metadata.js';
import { ProcessorCatalog } from './processor.catalog.js';

/**
 * Finds every `@Processor` method on the application's providers, inherited methods included,
 * validates it, and records it in the catalog (the module's initializer calls it before any
 * connection opens). Any wiring mistake fails the
 * boot with a {@link QueueProcessorError}: a queue served by a processor that was skipped would
 * look healthy while its messages pile up.
 */
@Injectable()
export class ProcessorExplorer {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(ProcessorCatalog) private readonly catalog: ProcessorCatalog,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  discover(): void {
    this.catalog.record(this.explore());
  }

  explore(): ProcessorDefinition[] {
    const definitions: ProcessorDefinition[] = [];
    const found = decoratedMethods(
      this.discovery,
      this.scanner,
      (method) =>
        Reflect.getMetadata(PROCESSOR_METADATA, method) as readonly ProcessorMetadata[] | undefined,
    );
    for (const { wrapper, instance, methodName, handlerName, declarations } of found) {
      for (const declaration of declarations) {
        const fail = (rule: string) =>
          new QueueProcessorError(String(declaration.queue), handlerName, rule);
        if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
          throw fail(
            'its provider is request-scoped or transient (or depends on one); processors must live on singleton providers, since workers call one instance for every message',
          );
        }
        const target = (instance as Record<string, unknown>)[methodName];
        if (typeof target !== 'function') {
          throw fail(`${methodName} is not a function on the provider instance`);
        }
        const resolved = resolveProcessor(
          declaration.queue,
          declaration.options,
          this.config.workers.defaults,
        );
        if (!resolved.ok) throw fail(resolved.rule);
        definitions.push(
          Object.freeze({
            queue: resolved.queue,
            handlerName,
            handler: (message: ProcessorMessage) =>
              (target as (message: ProcessorMessage) => unknown).call(instance, message),
            options: resolved.options,
          }),
        );
      }
    }
    assertOneHandlerPerQueue(definitions);
    return definitions;
  }
}

/** Two handlers on one queue must both say `shareQueue: true`. */
export function assertOneHandlerPerQueue(definitions: readonly ProcessorDefinition[]): void {
  const byQueue = new Map<string, ProcessorDefinition[]>();
  for (const definition of definitions) {
    byQueue.set(definition.queue, [...(byQueue.get(definition.queue) ?? []), definition]);
  }
  for (const [queue, handlers] of byQueue) {
    if (handlers.length < 2 || handlers.every((handler) => handler.options.shareQueue)) continue;
    throw new QueueProcessorError(
      queue,
      handlers.map((handler) => handler.handlerName).join(' and '),
      'more than one handler for this queue; set shareQueue: true on each if they are meant to share its messages',
    );
  }
}
