/**
 * What `QueueService.cancel` did:
 *
 * - `cancelled`: the message was waiting (`ready`, delayed or not) and is now `cancelled`; it
 *   never starts.
 * - `requested`: a worker holds it (`leased`: running, or prefetched and not started yet). The
 *   cancel is recorded and that worker told; it aborts the handler's `signal` with a
 *   `MessageCancelledError` and settles the message `cancelled`. A handler that finishes before
 *   its worker hears of the cancel still ends `done`: read the message's state to know.
 * - `finished`: it is `done`, `failed` or `cancelled` already; nothing changed.
 * - `notFound`: no message has this id (in this queue, for a producer's `cancel`).
 */
export type CancelResult = 'cancelled' | 'requested' | 'finished' | 'notFound';

/** Options of `QueueService.cancel`. */
export interface CancelOptions {
  /** Cancel the message only if it belongs to this queue (`notFound` otherwise). */
  readonly queue?: string;
}
