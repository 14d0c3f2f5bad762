import { type BlockedGroup } from './interfaces/blocked-group.interface.js';
import { type MessageState, type QueueMessage } from './interfaces/queue-message.interface.js';
import {
  type EnqueueManyOptions,
  type EnqueueOptions,
} from './interfaces/queue-operation-options.interface.js';
import { type QueueStats } from './interfaces/queue-stats.interface.js';
import { type CancelResult } from './interfaces/queue-control.interface.js';
import {
  type QueueBody,
  type QueueResult,
  type QueueTypes,
} from './interfaces/queue-types.interface.js';
import { type QueueService } from './queue.service.js';
import {
  type QueueMessageDetail,
  type WaitForOptions,
} from './interfaces/message-detail.interface.js';

/**
 * One queue's producer, injected by name with {@link InjectQueue} after
 * `QueueModule.forFeature([...])`: the `QueueService` calls that take a queue, with the queue
 * bound. Its name was validated when the feature module was declared.
 *
 * ```ts
 * constructor(@InjectQueue('ingest.main') private readonly ingest: QueueProducer<IngestDocument>) {}
 * ...
 * await this.ingest.enqueue({ url, title });
 * ```
 *
 * For a queue declared in {@link QueueTypes}, `QueueProducerFor<'ingest.main'>` is the producer
 * typed by its declaration.
 *
 * @typeParam T its body type. @typeParam R its handler's result type (`waitFor`, `getMessage`).
 */
export class QueueProducer<T = unknown, R = unknown> {
  /** @internal Built by `QueueModule.forFeature`; inject it with `@InjectQueue(name)`. */
  constructor(
    /** The queue's name. */
    readonly name: string,
    private readonly service: QueueService,
  ) {}

  /**
   * Adds one message; see {@link QueueService.enqueue}. @returns its id, or with a held
   * `uniqueKey`, the holder's.
   */
  enqueue(body: T, options?: EnqueueOptions): Promise<string> {
    return this.service.enqueue<T>(this.name, body, options);
  }

  /** Adds many messages in one statement, all or none; see {@link QueueService.enqueueMany}. */
  enqueueMany(bodies: readonly T[], options?: EnqueueManyOptions<T>): Promise<string[]> {
    return this.service.enqueueMany<T>(this.name, bodies, options);
  }

  /**
   * A message by id, with its `result` and `progress`; see {@link QueueService.getMessage}. By
   * id alone, like `QueueService`: a dead letter moved to another queue is found too.
   */
  getMessage(id: string): Promise<QueueMessageDetail<T, R> | null> {
    return this.service.getMessage<T, R>(id);
  }

  /**
   * Waits for a message to end and resolves with its result; see {@link QueueService.waitFor}.
   */
  waitFor(id: string, options?: WaitForOptions): Promise<R> {
    return this.service.waitFor<R>(id, options);
  }

  /** This queue's counts, ready split into due and delayed; see {@link QueueService.getStats}. */
  getStats(): Promise<QueueStats> {
    return this.service.getStats(this.name);
  }

  /** This queue's dead letters, oldest first; see {@link QueueService.listFailed}. */
  listFailed(options?: { readonly limit?: number }): Promise<QueueMessage<T>[]> {
    return this.service.listFailed<T>(this.name, options);
  }

  /** Puts dead letters back, due now; see {@link QueueService.retryFailed}. */
  retryFailed(ids?: readonly string[]): Promise<number> {
    return this.service.retryFailed(this.name, ids);
  }

  /** Deletes this queue's messages, or those in one state; see {@link QueueService.clearQueue}. */
  clear(state?: MessageState): Promise<number> {
    return this.service.clearQueue(this.name, state);
  }

  /** This queue's ordered groups that cannot go on, and why; see {@link QueueService.listBlockedGroups}. */
  listBlockedGroups(limit?: number): Promise<BlockedGroup[]> {
    return this.service.listBlockedGroups(this.name, limit);
  }

  /** Lets a group go on past its dead letters; see {@link QueueService.releaseGroup}. */
  releaseGroup(groupKey: string): Promise<number> {
    return this.service.releaseGroup(this.name, groupKey);
  }

  /** Pauses this queue for every replica; see {@link QueueService.pause}. */
  pause(): Promise<void> {
    return this.service.pause(this.name);
  }

  /** Resumes this queue for every replica; see {@link QueueService.resume}. */
  resume(): Promise<void> {
    return this.service.resume(this.name);
  }

  /** Whether this queue is paused for every replica; see {@link QueueService.isPaused}. */
  isPaused(): Promise<boolean> {
    return this.service.isPaused(this.name);
  }

  /**
   * Cancels a message of this queue (`'notFound'` for another queue's); see
   * {@link QueueService.cancel}.
   */
  cancel(id: string): Promise<CancelResult> {
    return this.service.cancel(id, { queue: this.name });
  }
}

/**
 * The producer of queue `Q`, typed by its {@link QueueTypes} declaration:
 * `@InjectQueue('ingest.main') ingest: QueueProducerFor<'ingest.main'>`.
 */
export type QueueProducerFor<Q extends Extract<keyof QueueTypes, string>> = QueueProducer<
  QueueBody<Q>,
  QueueResult<Q>
>;
