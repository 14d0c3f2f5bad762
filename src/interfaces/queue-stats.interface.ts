import { type MessageState } from './queue-message.interface.js';

/** Message counts per state; every state is present, zero when empty. */
export type StateCounts = Record<MessageState, number>;

/** The Python backend's `get_stats()` shape, camel-cased. */
export interface QueueStats {
  readonly totalMessages: number;
  readonly byState: StateCounts;
  /** Per queue, per state. A queue appears once it holds at least one message. */
  readonly byQueue: Readonly<Record<string, StateCounts>>;
  /** Messages in the `failed` (dead-letter) state. */
  readonly failedMessages: number;
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
}
