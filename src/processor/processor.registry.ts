import { Injectable } from '@nestjs/common';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { type ProcessorInfo } from '../interfaces/processor-message.interface.js';
import { type QueueWorker } from '../workers/queue-worker.js';
import { type ProcessorDefinition } from './processor-definition.js';

/**
 * The processors of this process, at run time: list them, pause and resume a queue's workers.
 * Pausing stops fetching; handlers already running finish. It affects this process only.
 */
@Injectable()
export class ProcessorRegistry {
  private definitions: readonly ProcessorDefinition[] = [];
  private readonly workers = new Map<string, QueueWorker[]>();
  private readonly paused = new Set<string>();

  /** Every registered processor with its resolved options and live state. */
  getProcessors(): ProcessorInfo[] {
    return this.definitions.map((definition) => {
      const { body, deadLetterQueue, ...options } = definition.options;
      const workers = this.workers.get(definition.queue) ?? [];
      const worker = workers.find((candidate) => candidate.definition === definition);
      return {
        queue: definition.queue,
        handler: definition.handlerName,
        options: { ...options, deadLetterQueue, body: body?.name },
        paused: this.paused.has(definition.queue),
        inFlight: worker?.inFlightCount ?? 0,
      };
    });
  }

  /** Stops fetching for `queue` in this process. */
  pause(queue: string): void {
    this.assertKnown(queue);
    this.paused.add(queue);
    for (const worker of this.workers.get(queue) ?? []) worker.pause();
  }

  /** Starts fetching for `queue` again. */
  resume(queue: string): void {
    this.assertKnown(queue);
    this.paused.delete(queue);
    for (const worker of this.workers.get(queue) ?? []) worker.resume();
  }

  isPaused(queue: string): boolean {
    return this.paused.has(queue);
  }

  /** @internal Called once by the explorer at module init. */
  register(definitions: readonly ProcessorDefinition[]): void {
    this.definitions = Object.freeze([...definitions]);
  }

  /** @internal */
  getDefinitions(): readonly ProcessorDefinition[] {
    return this.definitions;
  }

  /** @internal Called by the orchestrator for each worker it starts. */
  attach(worker: QueueWorker): void {
    const workers = this.workers.get(worker.queue) ?? [];
    workers.push(worker);
    this.workers.set(worker.queue, workers);
  }

  /** @internal */
  workersOf(queue: string): readonly QueueWorker[] {
    return this.workers.get(queue) ?? [];
  }

  /** @internal */
  allWorkers(): QueueWorker[] {
    return [...this.workers.values()].flat();
  }

  private assertKnown(queue: string): void {
    if (!this.definitions.some((definition) => definition.queue === queue)) {
      throw new QueueValidationError('queue', `has no processor in this process (${queue})`);
    }
  }
}
