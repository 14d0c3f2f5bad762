import { type ProcessorOptions } from '../interfaces/processor-options.interface.js';

/** Reflect-metadata key under which `@Processor` stores its declarations on the method. */
export const PROCESSOR_METADATA = 'fetchcraft:queue:processor';

export interface ProcessorMetadata {
  readonly queue: string;
  readonly options: ProcessorOptions;
}
