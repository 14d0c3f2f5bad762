import { type LeasedMessage } from './queue-message.interface.js';
import { type ProcessorOptions } from './processor-options.interface.js';

/** What a `@Processor` handler receives. Resolve to ack; throw to retry (or see the control errors). */
export interface ProcessorMessage<T = unknown> extends LeasedMessage<T> {
  /**
   * Aborted when this worker lost the lease (another worker may have the message now) or when
   * shutdown ran out of time. Pass it to fetch, database calls and the like.
   */
  readonly signal: AbortSignal;
}

/** A registered processor, as `ProcessorRegistry.getProcessors()` lists it. */
export interface ProcessorInfo {
  readonly queue: string;
  /** `Class.method` of the handler. */
  readonly handler: string;
  /** Options after defaults were applied. */
  readonly options: Readonly<Required<Omit<ProcessorOptions, 'body' | 'deadLetterQueue'>>> & {
    readonly deadLetterQueue: string | undefined;
    readonly body: string | undefined;
  };
  readonly paused: boolean;
  /** Handlers of this processor running right now in this process. */
  readonly inFlight: number;
}
