import { type QueueCancelledWhen } from './queue-events.interface.js';

/**
 * What a worker of one queue reports to the metrics, bound to that queue once, when the worker
 * is built. Internal: the workers hold one only when metrics are on, so with them off each
 * reporting point costs one check of an undefined field.
 */
export interface QueueMetricHooks {
  /** A message's ack landed: it is `done`. */
  processed(): void;
  /** An attempt failed and the message will run again. */
  failed(): void;
  /** An attempt after the first started (the message failed, or its lease expired, before). */
  retried(): void;
  /** `count` messages failed for good (moved to a dead-letter queue or `failed` in place). */
  deadLettered(by: 'worker' | 'reaper', count?: number): void;
  cancelled(when: QueueCancelledWhen, count?: number): void;
  /** The reaper took back `count` expired leases. */
  stalled(count: number): void;
  /** How long a handler ran, from its call to its outcome. */
  handlerSeconds(seconds: number): void;
  /** How long a leased message waited in the process before its handler started. */
  leaseToStartSeconds(seconds: number): void;
  /** One lease statement's round trip. */
  leaseStatementSeconds(seconds: number): void;
  /** One ack batch statement's round trip. */
  ackStatementSeconds(seconds: number): void;
}

/** The metrics as the events system, the workers and the producer see them. */
export interface MetricHooks {
  /** The hooks of `queue`, made on first use and kept. */
  forQueue(queue: string): QueueMetricHooks;
}
