/**
 * Thrown by a processor handler to say "not now, try again in `delaySeconds`": the message goes
 * back to `ready`, due then, and the attempt this lease used is given back.
 */
export class SnoozeError extends Error {
  constructor(
    /** Whole seconds before the message is due again. */
    readonly delaySeconds: number,
    message = `snoozed for ${delaySeconds} s`,
  ) {
    super(message);
    this.name = 'SnoozeError';
  }
}
