/**
 * Thrown by a processor handler to say "never retry this message": it goes straight to the dead
 * letters, whatever attempts are left. The error's message is recorded in `last_error`.
 */
export class UnrecoverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnrecoverableError';
  }
}
