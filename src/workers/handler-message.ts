import { type EntityManager } from 'typeorm';
import { type LazyAbort } from '../async/lazy-abort.js';
import { type FlowChild } from '../interfaces/flow.interface.js';
import {
  type ProcessorMessage,
  type TransactionalMessage,
} from '../interfaces/processor-message.interface.js';
import {
  type LeasedMessage,
  type QueueErrorRecord,
} from '../interfaces/queue-message.interface.js';

/** The two functions every handler's message carries, shared by all messages of a worker. */
export interface HandlerMethods {
  readonly progress: (this: LeasedMessage, value: unknown) => Promise<boolean>;
  readonly children: <R = unknown>(this: LeasedMessage) => Promise<FlowChild<R>[]>;
}

/**
 * The message a handler receives: the leased message's fields as own properties, its (possibly
 * validated) body, the worker's `progress` and `children`, and `signal` from the prototype,
 * made on first read (see `LazyAbort`).
 *
 * A class with fields set in one order, not `{ ...message, body, signal, progress, children }`:
 * that literal, an object spread followed by more properties, took V8's slow path, about 4 µs
 * per message (the executor's largest own cost in a drain profile), where this takes 0.05 µs.
 * `signal` being an accessor of the prototype, a handler's `{ ...message }` copies no signal.
 */
export class HandlerMessage<T = unknown> implements ProcessorMessage<T> {
  readonly id: string;
  readonly queue: string;
  readonly body: T;
  readonly attempts: number;
  readonly state: 'leased';
  readonly availableAt: Date;
  readonly leaseUntil: Date;
  readonly createdAt: Date;
  readonly leaseToken: string;
  readonly lastError: QueueErrorRecord | null;
  readonly originQueue: string | null;
  readonly priority: number;
  readonly uniqueKey: string | null;
  readonly groupKey: string | null;
  readonly parentId: string | null;
  readonly traceContext: string | null;
  readonly progress: HandlerMethods['progress'];
  readonly children: HandlerMethods['children'];
  /** Set on the message of a `transaction: true` handler only (see `withManager`). */
  declare readonly manager?: EntityManager;
  readonly #abort: LazyAbort;

  constructor(
    message: LeasedMessage<unknown>,
    body: T,
    abort: LazyAbort,
    methods: HandlerMethods,
    manager?: EntityManager,
  ) {
    this.id = message.id;
    this.queue = message.queue;
    this.body = body;
    this.attempts = message.attempts;
    this.state = message.state;
    this.availableAt = message.availableAt;
    this.leaseUntil = message.leaseUntil;
    this.createdAt = message.createdAt;
    this.leaseToken = message.leaseToken;
    this.lastError = message.lastError;
    this.originQueue = message.originQueue;
    this.priority = message.priority;
    this.uniqueKey = message.uniqueKey;
    this.groupKey = message.groupKey;
    this.parentId = message.parentId;
    this.traceContext = message.traceContext ?? null;
    this.progress = methods.progress;
    this.children = methods.children;
    this.#abort = abort;
    if (manager !== undefined) (this as { manager?: EntityManager }).manager = manager;
  }

  /** Aborted when the lease is lost, shutdown runs out of time, or the message is cancelled. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** The same message with a transaction's `manager`, for a `transaction: true` handler. */
  withManager(manager: EntityManager): TransactionalMessage<T> {
    return new HandlerMessage(
      this,
      this.body,
      this.#abort,
      this,
      manager,
    ) as TransactionalMessage<T>;
  }
}
