import { Injectable } from '@nestjs/common';
import { type ProcessorDefinition } from './processor-definition.js';

/**
 * The processors this application declares, as discovery found and validated them at module
 * init. Written once by the explorer; read by the workers' orchestrator and registry. It knows
 * nothing of what runs.
 */
@Injectable()
export class ProcessorCatalog {
  private entries: readonly ProcessorDefinition[] = [];

  /** Every declared processor, in discovery order. */
  get definitions(): readonly ProcessorDefinition[] {
    return this.entries;
  }

  /** Whether some processor of this application handles `queue`. */
  declares(queue: string): boolean {
    return this.entries.some((definition) => definition.queue === queue);
  }

  record(definitions: readonly ProcessorDefinition[]): void {
    this.entries = Object.freeze([...definitions]);
  }
}
