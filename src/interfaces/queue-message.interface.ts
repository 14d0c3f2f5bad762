import { type QueueErrorRecord } from '../errors/queue-error-record.js';

export { type QueueErrorRecord } from '../errors/queue-error-record.js';
/**
 * Every state a message can be in. The first three are the Python backend's; `failed` holds dead
 * letters; `cancelled` messages were cancelled before they finished; `waiting_children` is a
 * flow's parent waiting for its children.
 */
export const MESSAGE_STATES = [
  'ready',
  'leased',
  'done',
  'failed',
  'cancelled',
  'waiting_children',
] as const;

/**
 * `ready` (waiting), `leased` (a worker holds it), `done` (acknowledged), `failed` (dead letter),
 * `cancelled` (by `cancel`: never started, or aborted while running; not retried),
 * `waiting_children` (a flow's parent: it becomes `ready` when its last child ends).
 */
export type MessageState = (typeof MESSAGE_STATES)[number];

/** A message as stored. Times come from the database clock, at whole-second precision. */
export interface QueueMessage<T = unknown> {
  readonly id: string;
  readonly queue: string;
  /** The body, parsed once from JSONB. Its type is the caller's claim; it is not checked here. */
  readonly body: T;
  /** How many times the message has been leased, this lease included. */
  readonly attempts: number;
  readonly state: MessageState;
  /** When the message is (or was) due. */
  readonly availableAt: Date;
  /** When the current lease runs out; `null` unless leased. */
  readonly leaseUntil: Date | null;
  readonly createdAt: Date;
  /** The token of the current lease; `null` unless leased. */
  readonly leaseToken: string | null;
  /** The last failure recorded by a processor, if any. */
  readonly lastError: QueueErrorRecord | null;
  /** For a dead letter moved to a `deadLetterQueue`: the queue it failed in. */
  readonly originQueue: string | null;
  /** Higher first; 0 (the lowest) unless enqueued with a `priority`. */
  readonly priority: number;
  /** The `uniqueKey` it was enqueued with, if any (held or not). */
  readonly uniqueKey: string | null;
  /** The `groupKey` it was enqueued with, if any. */
  readonly groupKey: string | null;
  /** The id of its parent, for a child of a flow; `null` otherwise. */
  readonly parentId: string | null;
}

/** What `ack` and `nack` need to prove the caller still holds the lease. */
export interface QueueLease {
  readonly id: string;
  readonly leaseToken: string;
}

/** A message returned by `leaseNext`/`leaseMany`: it carries the token that settles it. */
export interface LeasedMessage<T = unknown> extends QueueMessage<T>, QueueLease {
  readonly state: 'leased';
  readonly leaseUntil: Date;
  readonly leaseToken: string;
  /**
   * The W3C trace context of the OpenTelemetry span it was sent under, as a JSON carrier
   * (`{"traceparent": "00-…", "tracestate": "…"}`) that any propagator's `extract` takes; null
   * when no tracer provider was registered when it was enqueued. `@Processor` handlers run in a
   * span that continues it already; a caller of `leaseNext`/`leaseMany` may continue it itself.
   */
  readonly traceContext?: string | null;
}
