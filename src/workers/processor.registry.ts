import { Inject, Injectable } from '@nestjs/common';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { type ProcessorInfo } from '../interfaces/processor-message.interface.js';
import { ProcessorCatalog } from '../processor/processor.catalog.js';
import { RunningWorkers } from './running-workers.js';

/**
 * The processors of this process, at run time: list them, pause and resume a queue's workers.
 * Pausing stops fetching (messages leased ahead go back to the queue); handlers already running
 * finish. It affects this process only. A queue paused before the workers start stays paused.
 *
 * `QueueService.pause` pauses a queue for every replica instead; this registry also keeps what
 * this process last heard of that (`pausedEverywhere`), and a worker fetches only while neither
 * pause is set.
 */
@Injectable()
export class ProcessorRegistry {
  private readonly paused = new Set<string>();
  private readonly pausedEverywhere = new Set<string>();

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
        pausedEverywhere: this.pausedEverywhere.has(definition.queue),
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

  /** Whether `queue` is paused in this process (by {@link pause}). */
  isPaused(queue: string): boolean {
    return this.paused.has(queue);
  }

  /** Whether `queue`'s workers here stop fetching: either pause is set. */
  stopsFetching(queue: string): boolean {
    return this.paused.has(queue) || this.pausedEverywhere.has(queue);
  }

  /** Whether this process last heard that `queue` is paused for every replica. */
  isPausedEverywhere(queue: string): boolean {
    return this.pausedEverywhere.has(queue);
  }

  /**
   * @internal What this process heard of `queue`'s shared pause (a NOTIFY, or the poll); its
   * workers look again when it changed.
   */
  setPausedEverywhere(queue: string, paused: boolean): void {
    if (paused === this.pausedEverywhere.has(queue)) return;
    if (paused) this.pausedEverywhere.add(queue);
    else this.pausedEverywhere.delete(queue);
    for (const worker of this.workers.of(queue)) worker.poke();
  }

  private assertKnown(queue: string): void {
    if (!this.catalog.declares(queue)) {
      throw new QueueValidationError('queue', `has no processor in this process (${queue})`);
    }
  }
}
