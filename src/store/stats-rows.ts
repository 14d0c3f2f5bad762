import { MESSAGE_STATES, type MessageState } from '../interfaces/queue-message.interface.js';
import {
  type QueueDepth,
  type QueueStats,
  type ReadyCounts,
  type StateCounts,
} from '../interfaces/queue-stats.interface.js';

/**
 * A row of `statsSql`: counts arrive as strings (bigint). A row without queue and state only
 * counts, in `moved`, one queue's dead letters moved out and not yet done.
 */
export interface StatsRow {
  readonly queue: string | null;
  readonly state: string | null;
  readonly count: string;
  readonly moved: string;
  /** Of a `ready` row: how many are due now (the rest are delayed). */
  readonly due: string;
}

/** A row of `queueDepthSql`. */
export interface DepthRow {
  readonly queue: string;
  readonly state: 'ready' | 'leased' | 'failed' | 'paused';
  readonly count: string;
  readonly oldest_due_age: string | null;
  readonly expired: string;
}

function emptyCounts(): StateCounts {
  return Object.fromEntries(MESSAGE_STATES.map((state) => [state, 0])) as StateCounts;
}

/**
 * Totals per state and per queue and state; moved dead letters not yet done count as failed;
 * ready messages split into due and delayed.
 */
export function toQueueStats(rows: readonly StatsRow[]): QueueStats {
  const byState = emptyCounts();
  // Null prototype: a queue may legitimately be called "__proto__".
  const byQueue = Object.create(null) as Record<string, StateCounts>;
  const readyByQueue = Object.create(null) as Record<string, ReadyCounts>;
  const ready = { due: 0, delayed: 0 };
  let totalMessages = 0;
  let movedDeadLetters = 0;
  for (const row of rows) {
    movedDeadLetters += Number(row.moved);
    if (row.queue === null || row.state === null) continue;
    const count = Number(row.count);
    const state = row.state as MessageState;
    totalMessages += count;
    byState[state] += count;
    (byQueue[row.queue] ??= emptyCounts())[state] += count;
    readyByQueue[row.queue] ??= { due: 0, delayed: 0 };
    if (state === 'ready') {
      const due = Number(row.due);
      readyByQueue[row.queue] = { due, delayed: count - due };
      ready.due += due;
      ready.delayed += count - due;
    }
  }
  return {
    totalMessages,
    byState,
    byQueue,
    failedMessages: byState.failed + movedDeadLetters,
    ready,
    readyByQueue,
  };
}

/** A queue with no live message: what a depth report says of it. */
export const EMPTY_QUEUE_DEPTH: Readonly<QueueDepth> = Object.freeze({
  ready: 0,
  readyCapped: false,
  leased: 0,
  failed: 0,
  oldestReadyAgeSeconds: 0,
  expiredLeases: 0,
  paused: false,
});

/**
 * Depth per queue. The statement counted ready rows up to `countLimit + 1`, so a count past
 * `countLimit` means the backlog is at least that deep: it is reported capped.
 */
export function toQueueDepths(
  rows: readonly DepthRow[],
  countLimit: number,
): Record<string, QueueDepth> {
  const queues = Object.create(null) as Record<string, QueueDepth>;
  for (const row of rows) {
    const depth = (queues[row.queue] ??= { ...EMPTY_QUEUE_DEPTH });
    if (row.state === 'paused') {
      depth.paused = true;
      continue;
    }
    depth[row.state] = Number(row.count);
    if (row.state === 'ready') {
      depth.readyCapped = depth.ready > countLimit;
      depth.ready = Math.min(depth.ready, countLimit);
      depth.oldestReadyAgeSeconds = Number(row.oldest_due_age ?? 0);
    }
    if (row.state === 'leased') depth.expiredLeases = Number(row.expired);
  }
  return queues;
}
