import { QueueError } from './queue.error.js';

/**
 * The options given to `QueueModule.forRoot`/`forRootAsync` are unusable; the application does not
 * boot. The message names the option and the rule, never the password of a connection string.
 */
export class QueueOptionsError extends QueueError {
  constructor(
    /** The option that was rejected, e.g. `poolMinSize` or `connectionString`. */
    readonly option: string,
    /** What the option must be. */
    readonly rule: string,
  ) {
    super(`Invalid QueueModule option "${option}": ${rule}`);
  }
}
