import { type MessageState } from './queue-message.interface.js';

/** Message counts per state; every state is present, zero when empty. */
export type StateCounts = Record<MessageState, number>;

/** `ready` messages, split by whether a worker may lease them now. */
export interface ReadyCounts {
  /** Due: available at or before the database's clock. These are waiting for a worker. */
  readonly due: number;
  /**
   * Not due yet: enqueued with `delaySeconds`, or waiting out a retry's backoff or a snooze.
   * A queue whose ready messages are all delayed is waiting, not stalled.
   */
  readonly delayed: number;
}

/**
 * The Python backend's `get_stats()` keys, camel-cased (`totalMessages`, `byState`, `byQueue`,
 * `failedMessages`), plus `ready` and `readyByQueue`. Two differ in meaning: `byQueue` counts per
 * queue and state (its `by_queue` is one total per queue: the sum of the states), and
 * `failedMessages` counts dead letters (its `failed_messages` counts messages with 3 or more
 * attempts, whatever their state). With a queue name, every field counts that queue's rows only.
 */
export interface QueueStats {
  readonly totalMessages: number;
  /** Per state; `ready` counts due and delayed messages alike (see {@link QueueStats.ready}). */
  readonly byState: StateCounts;
  /** Per queue, per state. A queue appears once it holds at least one message. */
  readonly byQueue: Readonly<Record<string, StateCounts>>;
  /**
   * Dead letters not yet dealt with: messages in the `failed` state, plus those moved to a
   * dead-letter queue that are not yet `done` there.
   */
  readonly failedMessages: number;
  /** `byState.ready` split into due and delayed: `due + delayed === byState.ready`. */
  readonly ready: ReadyCounts;
  /** `byQueue[queue].ready` split the same way; it has the same queues as `byQueue`. */
  readonly readyByQueue: Readonly<Record<string, ReadyCounts>>;
}

/** One queue's depth, as the health report shows it. */
export interface QueueDepth {
  /** Ready messages, counted up to the health `countLimit`. */
  ready: number;
  /** True when `ready` stopped at the count limit: the backlog is at least that deep. */
  readyCapped: boolean;
  leased: number;
  failed: number;
  /** Age of the oldest `ready` message that is due, in seconds; 0 when none is waiting. */
  oldestReadyAgeSeconds: number;
  /** Leased messages whose lease has run out and that the reaper has not settled yet. */
  expiredLeases: number;
  /**
   * Paused for every replica (`QueueService.pause`): its backlog waits on purpose, so the ready
   * thresholds (`maxReadyDepth`, `maxOldestReadyAgeSeconds`) do not apply to it.
   */
  paused: boolean;
}
