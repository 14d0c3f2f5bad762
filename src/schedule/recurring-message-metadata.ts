import { type RecurringMessageOptions } from '../interfaces/schedule-options.interface.js';

/** Reflect-metadata key under which `@RecurringMessage` stores its declarations on the method. */
export const RECURRING_MESSAGE_METADATA = 'fetchcraft:queue:recurring-message';

export interface RecurringMessageMetadata {
  readonly name: string;
  readonly options: RecurringMessageOptions;
}
