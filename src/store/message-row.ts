import {
  type LeasedMessage,
  type MessageState,
  type QueueErrorRecord,
  type QueueMessage,
} from '../interfaces/queue-message.interface.js';

/** A message row as `pg` returns it for `MESSAGE_COLUMNS`: bigint columns arrive as strings. */
export interface MessageRow {
  readonly id: string;
  readonly queue: string;
  readonly body: unknown;
  readonly attempts: number;
  readonly state: string;
  readonly available_at: string;
  readonly lease_until: string | null;
  readonly created_at: string;
  readonly lease_token: string | null;
  readonly last_error: unknown;
  readonly origin_queue: string | null;
  readonly priority: number;
  readonly unique_key: string | null;
  readonly group_key: string | null;
  readonly parent_id: string | null;
}

/** A row of the lease statement: the message and its body's stored size. */
export interface LeasedRow extends MessageRow {
  readonly body_bytes: number;
  /** bigint, as a string. */
  readonly seq: string;
  readonly priority: number;
  /** See `LeasedMessage.traceContext`. */
  readonly trace_context: string | null;
}

function fromEpochSeconds(value: string): Date {
  return new Date(Number(value) * 1000);
}

/** A row as the message callers see. The body's type is the caller's claim; it is not checked. */
export function toMessage<T>(row: MessageRow): QueueMessage<T> {
  return {
    id: row.id,
    queue: row.queue,
    body: row.body as T,
    attempts: row.attempts,
    state: row.state as MessageState,
    availableAt: fromEpochSeconds(row.available_at),
    leaseUntil: row.lease_until === null ? null : fromEpochSeconds(row.lease_until),
    createdAt: fromEpochSeconds(row.created_at),
    leaseToken: row.lease_token,
    lastError: (row.last_error ?? null) as QueueErrorRecord | null,
    originQueue: row.origin_queue,
    priority: row.priority,
    uniqueKey: row.unique_key,
    groupKey: row.group_key,
    parentId: row.parent_id,
  };
}

/** A row the lease statement returned: state `leased`, with its token and lease end. */
export function toLeasedMessage<T>(row: LeasedRow): LeasedMessage<T> {
  const message = toMessage<T>(row) as {
    -readonly [K in keyof LeasedMessage<T>]: LeasedMessage<T>[K];
  };
  message.traceContext = row.trace_context;
  return message;
}
