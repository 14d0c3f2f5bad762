import { type BodyValidationFailure } from './body-validation.error.js';

/** A failure as a processor records it in `last_error`. */
export interface QueueErrorRecord {
  /** The error's class name, e.g. `TypeError`, `ValidationError`. */
  readonly name: string;
  /** Its message, at most 2,000 characters. */
  readonly message: string;
  /** Its stack, at most 4,000 characters. */
  readonly stack?: string;
  /** The attempt that failed. */
  readonly attempt: number;
  /** Epoch seconds (database clock) when it was recorded. */
  readonly failedAt: number;
  /** Why a body was refused by its DTO: one entry per failing property. */
  readonly details?: readonly BodyValidationFailure[];
}
