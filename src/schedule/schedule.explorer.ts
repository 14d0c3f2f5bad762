import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { decoratedMethods } from '../discovery/decorated-methods.js';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueProcessorError } from '../errors/queue-processor.error.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { PROCESSOR_METADATA, type ProcessorMetadata } from '../processor/processor-metadata.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { type ScheduleDefinition } from '../sql/schedules.sql.js';
import {
  RECURRING_MESSAGE_METADATA,
  type RecurringMessageMetadata,
} from './recurring-message-metadata.js';
import { ScheduleCatalog } from './schedule.catalog.js';
import { resolveModuleSchedules, resolveSchedule } from './schedule-rules.js';

/**
 * Finds every `@RecurringMessage` on the application's providers (inherited methods included),
 * takes its queue from the `@Processor` of the same method, checks it, and records it in the
 * catalog with the module options' `schedules`. A wrong declaration fails the boot with a
 * {@link QueueProcessorError}: a schedule skipped silently would simply never tick.
 */
@Injectable()
export class ScheduleExplorer {
  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(ScheduleCatalog) private readonly catalog: ScheduleCatalog,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {}

  discover(): void {
    const declared = [...resolveModuleSchedules(this.config.schedules, this.config.maxBodyBytes)];
    const names = new Set(declared.map((definition) => definition.name));
    for (const { definition, handlerName } of this.explore()) {
      if (names.has(definition.name)) {
        throw new QueueProcessorError(
          definition.queue,
          handlerName,
          `@RecurringMessage(${JSON.stringify(definition.name)}): another schedule of this application has this name`,
        );
      }
      names.add(definition.name);
      declared.push(definition);
    }
    this.catalog.record(declared);
  }

  explore(): { definition: ScheduleDefinition; handlerName: string }[] {
    const found: { definition: ScheduleDefinition; handlerName: string }[] = [];
    const visited = new Set<object>();
    const methods = decoratedMethods(
      this.discovery,
      this.scanner,
      (method) =>
        Reflect.getMetadata(RECURRING_MESSAGE_METADATA, method) as
          readonly RecurringMessageMetadata[] | undefined,
    );
    for (const { prototype, methodName, handlerName, declarations } of methods) {
      // A class provided under two tokens declares its schedules once.
      const key = (prototype as Record<string, object>)[methodName]!;
      if (visited.has(key)) continue;
      visited.add(key);
      const processors = (Reflect.getMetadata(PROCESSOR_METADATA, key) ??
        []) as ProcessorMetadata[];
      for (const { name, options } of declarations) {
        found.push({
          definition: this.resolve(name, options, processors, handlerName),
          handlerName,
        });
      }
    }
    return found;
  }

  private resolve(
    name: string,
    options: RecurringMessageMetadata['options'],
    processors: readonly ProcessorMetadata[],
    handlerName: string,
  ): ScheduleDefinition {
    const queues = [...new Set(processors.map((processor) => processor.queue))];
    const given = options?.queue;
    const fail = (rule: string) =>
      new QueueProcessorError(
        String(given ?? queues[0] ?? ''),
        handlerName,
        `@RecurringMessage(${JSON.stringify(name)}): ${rule}`,
      );
    if (queues.length === 0) {
      throw fail('needs a @Processor(queue) on the same method: its messages go to that queue');
    }
    if (given === undefined && queues.length > 1) {
      throw fail(
        `the method has several @Processor queues (${queues.join(', ')}); say which with options.queue`,
      );
    }
    const queue = given ?? queues[0]!;
    if (!queues.includes(queue)) {
      throw fail(
        `options.queue must be one of the method's @Processor queues (${queues.join(', ')})`,
      );
    }
    try {
      return resolveSchedule(
        name,
        { ...options, queue },
        { name: 'name', options: 'options' },
        this.config.maxBodyBytes,
      );
    } catch (error) {
      if (error instanceof QueueValidationError) throw fail(`${error.field} ${error.rule}`);
      throw error;
    }
  }
}
