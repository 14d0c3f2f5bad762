import { type MessageState } from './queue-message.interface.js';

/** Message counts per state; every state is present, zero when empty. */
export type StateCounts = Record<MessageState, number>;

/** The seed's `get_stats()` shape, camel-cased. */
export interface QueueStats {
  readonly totalMessages: number;
  readonly byState: StateCounts;
  /** Per queue, per state. A queue appears once it holds at least one message. */
  readonly byQueue: Readonly<Record<string, StateCounts>>;
  /** Messages in the `failed` (dead-letter) state. */
  readonly failedMessages: number;
}
