import { Injectable, Logger } from '@nestjs/common';
import { describeFailure } from '../errors/describe-error.js';
import {
  QUEUE_EVENT_NAMES,
  type QueueEventMap,
  type QueueEventName,
} from '../interfaces/queue-events.interface.js';
import { type MetricHooks } from '../interfaces/metric-hooks.interface.js';
import { type QueueMessage } from '../interfaces/queue-message.interface.js';
import { type ReapOutcome } from '../store/message-store.js';

/** A discovered, validated `@OnQueueEvent`: what the dispatcher calls. */
export interface QueueEventListenerDefinition {
  readonly event: QueueEventName;
  /** Heard for this queue only; every queue when undefined. */
  readonly queue: string | undefined;
  /** `Class.method`, for log lines. */
  readonly listenerName: string;
  /** The decorated method, bound to its provider instance. */
  readonly listener: (payload: never) => unknown;
}

/**
 * Which events of one queue have a listener in this process. Read on the hot path before any
 * payload is built, so a queue nobody listens to pays one property read per settled message.
 */
export type QueueEventInterest = Readonly<Record<QueueEventName, boolean>>;

export const NO_INTEREST: QueueEventInterest = Object.freeze({
  completed: false,
  failed: false,
  'dead-lettered': false,
  cancelled: false,
  stalled: false,
  progress: false,
});

interface PendingEvent {
  readonly listeners: readonly QueueEventListenerDefinition[];
  readonly payload: QueueEventMap[QueueEventName];
  readonly event: QueueEventName;
}

/**
 * The `@OnQueueEvent` listeners of this process and their dispatch. Written once by the explorer
 * at module init; the workers, the reaper and `QueueService.cancel` emit through it after the
 * statement that settled a message has returned.
 *
 * Listeners run later, never inside the caller's turn: emitted events queue up in order and one
 * `setImmediate` runs them, so a listener never delays an ack batch, a freed slot or the next
 * lease, and the events of one message reach each listener in the order they were emitted. What a
 * listener returns is not awaited; a throw or a rejection is logged and goes no further.
 */
@Injectable()
export class QueueEvents {
  private readonly logger = new Logger('QueueEvents');
  private definitions: readonly QueueEventListenerDefinition[] = [];
  /** Events some listener hears on every queue. */
  private readonly everyQueue = new Set<QueueEventName>();
  /** Per event, the queues some listener filters on. */
  private readonly someQueues = new Map<QueueEventName, Set<string>>();
  /** Per event and queue, its listeners in discovery order; filled on first use. */
  private readonly resolved = new Map<
    QueueEventName,
    Map<string, QueueEventListenerDefinition[]>
  >();
  private readonly interests = new Map<string, QueueEventInterest>();
  private pending: PendingEvent[] = [];
  private scheduled = false;
  /**
   * The Prometheus metrics, when the module's `metrics` option is on: the workers take their
   * queue's hooks from here, and what settles messages outside a worker (the reaper, a cancel of
   * a waiting message) reports through it.
   */
  metrics: MetricHooks | undefined;

  /** Set once, by the metrics provider, before any worker is built. */
  attachMetrics(metrics: MetricHooks): void {
    this.metrics = metrics;
  }

  /** Every declared listener, in discovery order. */
  get listeners(): readonly QueueEventListenerDefinition[] {
    return this.definitions;
  }

  record(definitions: readonly QueueEventListenerDefinition[]): void {
    this.definitions = Object.freeze([...definitions]);
    this.everyQueue.clear();
    this.someQueues.clear();
    this.resolved.clear();
    this.interests.clear();
    for (const { event, queue } of definitions) {
      if (queue === undefined) {
        this.everyQueue.add(event);
        continue;
      }
      const queues = this.someQueues.get(event) ?? new Set<string>();
      queues.add(queue);
      this.someQueues.set(event, queues);
    }
  }

  /** Whether some listener hears `event` of `queue`. No allocation. */
  hears(event: QueueEventName, queue: string): boolean {
    return this.everyQueue.has(event) || (this.someQueues.get(event)?.has(queue) ?? false);
  }

  /** What a worker of `queue` checks before building a payload; computed once per queue. */
  interest(queue: string): QueueEventInterest {
    if (this.definitions.length === 0) return NO_INTEREST;
    let interest = this.interests.get(queue);
    if (interest === undefined) {
      const flags = { ...NO_INTEREST };
      for (const event of QUEUE_EVENT_NAMES) flags[event] = this.hears(event, queue);
      interest = Object.freeze(flags);
      this.interests.set(queue, interest);
    }
    return interest;
  }

  /**
   * Queues `payload` for the listeners of `event` of `payload.queue`; they run after the current
   * turn. Callers on a hot path check {@link hears} (or their {@link interest}) first, so that
   * no payload is built for nobody.
   */
  emit<E extends QueueEventName>(event: E, payload: QueueEventMap[E]): void {
    const listeners = this.listenersOf(event, payload.queue);
    if (listeners.length === 0) return;
    this.pending.push({ listeners, payload, event });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.dispatch());
  }

  /**
   * A running handler of `message` reported `value`: the `progress` event, when some listener
   * hears it. Costs a lookup when none does.
   */
  progress(message: QueueMessage, value: unknown): void {
    if (!this.hears('progress', message.queue)) return;
    this.emit('progress', { id: message.id, queue: message.queue, message, value });
  }

  /**
   * What the reaper settled: `stalled` for each message, then `dead-lettered` or `cancelled` for
   * those it made dead letters or cancelled.
   */
  reaped(outcomes: readonly ReapOutcome[]): void {
    if (this.metrics !== undefined) countReaped(this.metrics, outcomes);
    if (this.definitions.length === 0) return;
    for (const { outcome, ids, queue, fromQueue } of outcomes) {
      // A moved message is reported where it failed; `queue` is its dead-letter queue now.
      const failedIn = outcome === 'moved' ? (fromQueue ?? queue) : queue;
      const deadLetterQueue = outcome === 'moved' ? queue : undefined;
      const stalled = this.hears('stalled', failedIn);
      const settled =
        outcome === 'cancelled'
          ? this.hears('cancelled', failedIn)
          : outcome !== 'ready' && this.hears('dead-lettered', failedIn);
      if (!stalled && !settled) continue;
      for (const id of ids) {
        if (stalled) {
          this.emit('stalled', {
            id,
            queue: failedIn,
            outcome,
            ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
          });
        }
        if (!settled) continue;
        if (outcome === 'cancelled') {
          this.emit('cancelled', { id, queue: failedIn, when: 'leaseExpired' });
        } else {
          this.emit('dead-lettered', {
            id,
            queue: failedIn,
            deadLetterQueue: deadLetterQueue ?? null,
            by: 'reaper',
          });
        }
      }
    }
  }

  private listenersOf(event: QueueEventName, queue: string): QueueEventListenerDefinition[] {
    let byQueue = this.resolved.get(event);
    if (byQueue === undefined) {
      byQueue = new Map();
      this.resolved.set(event, byQueue);
    }
    let listeners = byQueue.get(queue);
    if (listeners === undefined) {
      listeners = this.definitions.filter(
        (definition) =>
          definition.event === event &&
          (definition.queue === undefined || definition.queue === queue),
      );
      // Bounded by the queues this process settles messages of, like its workers.
      byQueue.set(queue, listeners);
    }
    return listeners;
  }

  private dispatch(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    for (const { listeners, payload, event } of batch) {
      for (const definition of listeners) this.invoke(definition, event, payload);
    }
  }

  private invoke(
    definition: QueueEventListenerDefinition,
    event: QueueEventName,
    payload: QueueEventMap[QueueEventName],
  ): void {
    try {
      const returned = (definition.listener as (payload: unknown) => unknown)(payload);
      if (isThenable(returned)) {
        returned.then(undefined, (error: unknown) =>
          this.failed(definition, event, payload, error),
        );
      }
    } catch (error) {
      this.failed(definition, event, payload, error);
    }
  }

  private failed(
    definition: QueueEventListenerDefinition,
    event: QueueEventName,
    payload: QueueEventMap[QueueEventName],
    error: unknown,
  ): void {
    this.logger.error(
      `@OnQueueEvent("${event}") listener ${definition.listenerName} failed for message ${payload.id} of "${payload.queue}" (${describeFailure(error)}); the message is not affected`,
    );
  }
}

/** The reaper's outcomes as counts, each in the queue the message failed in. */
function countReaped(metrics: MetricHooks, outcomes: readonly ReapOutcome[]): void {
  for (const { outcome, count, queue, fromQueue } of outcomes) {
    const hooks = metrics.forQueue(outcome === 'moved' ? (fromQueue ?? queue) : queue);
    hooks.stalled(count);
    if (outcome === 'cancelled') hooks.cancelled('leaseExpired', count);
    else if (outcome !== 'ready') hooks.deadLettered('reaper', count);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
