import { type FlowChild } from '../interfaces/flow.interface.js';
import { type MessageState, type QueueErrorRecord } from '../interfaces/queue-message.interface.js';

/** A row of `childrenSql`, as `pg` returns it. */
export interface ChildRow {
  readonly id: string;
  readonly queue: string;
  readonly state: string;
  readonly result: unknown;
  readonly last_error: unknown;
  readonly origin_queue: string | null;
}

/** A child as its parent reads it. The result's type is the caller's claim; it is not checked. */
export function toFlowChild<R>(row: ChildRow): FlowChild<R> {
  return {
    id: row.id,
    queue: row.queue,
    state: row.state as MessageState,
    result: (row.result ?? null) as R | null,
    lastError: (row.last_error ?? null) as QueueErrorRecord | null,
    originQueue: row.origin_queue,
  };
}
