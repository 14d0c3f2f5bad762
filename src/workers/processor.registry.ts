import { Inject, Injectable } from '@nestjs/common';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { type ProcessorInfo } from '../interfaces/processor-message.interface.js';
import { ProcessorCatalog } from '../processor/processor.catalog.js';
import { RunningWorkers } from './running-workers.js';

/**
 * The processors of this process, at run time: list them, pause and resume a queue's workers.
 * Pausing stops fetching (messages leased ahead go back to the queue); handlers already running
 * finish. It affects this process only. A queue paused before the workers start stays paused.
 */
@Injectable()
export class ProcessorRegistry {
  private readonly paused = new Set<string>();

  constructor(
    @Inject(ProcessorCatalog) private readonly catalog: ProcessorCatalog,
    @Inject(RunningWorkers) private readonly workers: RunningWorkers,
  ) {}

  /** Every registered processor with its resolved options and live state. */
  getProcessors(): ProcessorInfo[] {
    return this.catalog.definitions.map((definition) => {
      const { body, deadLetterQueue, ...options } = definition.options;
      const worker = this.workers
        .of(definition.queue)
        .find((candidate) => candidate.definition === definition);
      return {
        queue: definition.queue,
        handler: definition.handlerName,
        options: { ...options, deadLetterQueue, body: body?.name },
        paused: this.paused.has(definition.queue),
        state: worker?.state ?? 'notStarted',
        inFlight: worker?.inFlightCount ?? 0,
      };
    });
  }

  /** Stops fetching for `queue` in this process. */
  pause(queue: string): void {
    this.assertKnown(queue);
    this.paused.add(queue);
    for (const worker of this.workers.of(queue)) worker.poke();
  }

  /** Starts fetching for `queue` again. */
  resume(queue: string): void {
    this.assertKnown(queue);
    this.paused.delete(queue);
    for (const worker of this.workers.of(queue)) worker.poke();
  }

  isPaused(queue: string): boolean {
    return this.paused.has(queue);
  }

  private assertKnown(queue: string): void {
    if (!this.catalog.declares(queue)) {
      throw new QueueValidationError('queue', `has no processor in this process (${queue})`);
    }
  }
}
