/** Why an ordered group (`groupConcurrency: 1`) cannot go on: see `QueueService.listBlockedGroups`. */
export type GroupBlock = 'deadLetter' | 'waiting';

/** A group that an ordered processor cannot take its next message from. */
export interface BlockedGroup {
  readonly groupKey: string;
  /**
   * `deadLetter`: one of its messages is a dead letter in place; the group waits until it is
   * retried (`retryFailed`), deleted, or the group released (`releaseGroup`). `waiting`: its
   * oldest ready message is not due yet (a retry's backoff, a snooze, a delay); the group goes
   * on by itself then.
   */
  readonly reason: GroupBlock;
  /** The message holding the group back. */
  readonly messageId: string;
  /** `deadLetter`: when it failed. `waiting`: when it is due. */
  readonly at: Date;
}
