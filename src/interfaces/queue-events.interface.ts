import { type QueueMessage } from './queue-message.interface.js';

/**
 * Every event an `@OnQueueEvent` method can listen to, in the order a message may meet them:
 * `progress` while its handler runs, then one of `completed`, `failed` (it will retry),
 * `dead-lettered`, `cancelled`; `stalled` when its lease expired and the reaper took it back.
 */
export const QUEUE_EVENT_NAMES = [
  'completed',
  'failed',
  'dead-lettered',
  'cancelled',
  'stalled',
  'progress',
] as const;

/** The name of a queue event: one of {@link QUEUE_EVENT_NAMES}. */
export type QueueEventName = (typeof QUEUE_EVENT_NAMES)[number];

/** What every event says: which message, in which queue. */
export interface QueueEventBase {
  /** The message's id. */
  readonly id: string;
  /**
   * The queue the message was handled in (for a dead letter moved to its dead-letter queue,
   * the queue it failed in). `@OnQueueEvent(event, queue)` filters on it.
   */
  readonly queue: string;
}

/** A handler resolved and its ack landed: the message is `done`. */
export interface QueueCompletedEvent extends QueueEventBase {
  /** The message as its worker leased it (its body as stored, before any `body` DTO). */
  readonly message: QueueMessage;
  /** What the handler returned (stored as the message's `result`); absent when it returned nothing. */
  readonly result?: unknown;
}

/** An attempt failed and the message will run again after `delaySeconds`. */
export interface QueueFailedEvent extends QueueEventBase {
  readonly message: QueueMessage;
  /** What the handler threw (or the `HandlerTimeoutError` of a handler that overran). */
  readonly error: unknown;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** The processor's `maxAttempts`. */
  readonly maxAttempts: number;
  /** How long until the next attempt is due (the backoff). */
  readonly delaySeconds: number;
}

/**
 * A message failed for good: `failed` in place (`deadLetterQueue` null) or moved to its
 * dead-letter queue. `by: 'worker'` when a handler's failure (or a refused body, or attempts
 * already spent) settled it, with the message and the error; `by: 'reaper'` when the lease of
 * its last allowed attempt expired (the worker crashed or stalled), with only its id.
 */
export type QueueDeadLetteredEvent = QueueEventBase & {
  /** The queue it was moved to, or null when it stays `failed` in `queue`. */
  readonly deadLetterQueue: string | null;
} & (
    | {
        readonly by: 'worker';
        readonly message: QueueMessage;
        readonly error: unknown;
        /** The attempt that failed. */
        readonly attempt: number;
      }
    | { readonly by: 'reaper' }
  );

/**
 * When a cancelled message was settled: `waiting` (it was `ready`: `QueueService.cancel` settled
 * it in the process that called it), `beforeStart` (leased ahead, never started), `running` (its
 * handler's signal was aborted, or the handler threw a `MessageCancelledError`), `leaseExpired`
 * (its worker died; the reaper settled it).
 */
export type QueueCancelledWhen = 'waiting' | 'beforeStart' | 'running' | 'leaseExpired';

/** A message was cancelled; it never runs again. */
export interface QueueCancelledEvent extends QueueEventBase {
  readonly when: QueueCancelledWhen;
  /** The message as its worker leased it, when a worker settled it (`beforeStart`, `running`). */
  readonly message?: QueueMessage;
}

/**
 * What the reaper made of a message whose lease expired: back to `ready` (it runs again),
 * `failed` in place or `moved` to its dead-letter queue (that was its last allowed attempt), or
 * `cancelled` (a cancel had been requested).
 */
export type QueueStalledOutcome = 'ready' | 'failed' | 'moved' | 'cancelled';

/**
 * A lease expired (its worker crashed, or stalled past `leaseSeconds` without a heartbeat) and
 * the reaper settled the message. Heard in the process whose reaper reaped it.
 */
export interface QueueStalledEvent extends QueueEventBase {
  readonly outcome: QueueStalledOutcome;
  /** For `moved`: the dead-letter queue it went to. */
  readonly deadLetterQueue?: string;
}

/** A running handler reported progress. */
export interface QueueProgressEvent extends QueueEventBase {
  readonly message: QueueMessage;
  /** The value the handler reported. */
  readonly value: unknown;
}

/** The payload of each queue event, by name: what an `@OnQueueEvent(name)` method receives. */
export interface QueueEventMap {
  completed: QueueCompletedEvent;
  failed: QueueFailedEvent;
  'dead-lettered': QueueDeadLetteredEvent;
  cancelled: QueueCancelledEvent;
  stalled: QueueStalledEvent;
  progress: QueueProgressEvent;
}

/** A method that listens to `E`: it may return a promise, which is not awaited. */
export type QueueEventListener<E extends QueueEventName> = (payload: QueueEventMap[E]) => unknown;
