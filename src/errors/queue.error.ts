/**
 * Base class of every error this package throws, so callers can tell queue failures apart
 * from their own with one `instanceof` check.
 */
export class QueueError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
