import { type ProcessorMessage } from '../interfaces/processor-message.interface.js';
import { type ResolvedProcessorOptions } from '../config/processor-options.js';

/** A discovered, validated `@Processor`: what a worker needs to run it. */
export interface ProcessorDefinition {
  readonly queue: string;
  /** `Class.method`, for log lines and errors. */
  readonly handlerName: string;
  /** The decorated method, bound to its provider instance. */
  readonly handler: (message: ProcessorMessage) => unknown;
  readonly options: ResolvedProcessorOptions;
}
