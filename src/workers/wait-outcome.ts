import { MessageCancelledError } from '../errors/message-cancelled.error.js';
import { MessageDeletedError } from '../errors/message-deleted.error.js';
import { MessageFailedError } from '../errors/message-failed.error.js';
import { type QueueError } from '../errors/queue.error.js';
import { type WaitStateRow } from '../store/message-detail-row.js';

/** Where an awaited message stands: not ended yet, done with its result, or ended otherwise. */
export type WaitOutcome =
  | { readonly kind: 'pending' }
  | { readonly kind: 'done'; readonly result: unknown }
  | { readonly kind: 'rejected'; readonly error: QueueError };

const PENDING: WaitOutcome = Object.freeze({ kind: 'pending' });

/**
 * How `waitFor` ends for message `id`, read as `row` (undefined: it does not exist). A message
 * ended as the `awaited_ended` trigger sees it: `done` (resolves with its result, `null` when
 * none was stored), a dead letter (`failed`, or moved to a dead-letter queue: `origin_queue` set,
 * whatever its state there since), or `cancelled`. Any other state is still pending; a dead
 * letter put back by `retryFailed` is pending again.
 */
export function waitOutcomeOf(id: string, row: WaitStateRow | undefined): WaitOutcome {
  if (row === undefined) return { kind: 'rejected', error: new MessageDeletedError(id) };
  if (row.origin_queue !== null) {
    return {
      kind: 'rejected',
      error: new MessageFailedError(id, row.origin_queue, row.last_error ?? null, row.queue),
    };
  }
  switch (row.state) {
    case 'done':
      return { kind: 'done', result: row.result ?? null };
    case 'failed':
      return {
        kind: 'rejected',
        error: new MessageFailedError(id, row.queue, row.last_error ?? null),
      };
    case 'cancelled':
      return { kind: 'rejected', error: new MessageCancelledError(id) };
    default:
      return PENDING;
  }
}
