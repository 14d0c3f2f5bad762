import { type EntityManager } from 'typeorm';
import { type FlowChild } from './flow.interface.js';
import { type LeasedMessage } from './queue-message.interface.js';
import { type ProcessorOptions, type RateLimitOptions } from './processor-options.interface.js';

/**
 * What a `@Processor` handler receives. Resolve to ack (a value other than `undefined` is stored
 * as the message's `result`, see `QueueService.waitFor`); throw to retry (or see the control
 * errors).
 */
export interface ProcessorMessage<T = unknown> extends LeasedMessage<T> {
  /**
   * Aborted when this worker lost the lease (another worker may have the message now), when
   * shutdown ran out of time, or when the message was cancelled (`MessageCancelledError`). Pass
   * it to fetch, database calls and the like.
   */
  readonly signal: AbortSignal;
  /**
   * Records the handler's progress with the message (read it with `QueueService.getMessage`):
   * JSON data up to 64 KiB, e.g. `{ done: 40, total: 100 }`. One UPDATE, fenced by the lease:
   * resolves `false` when this worker no longer holds the message (lease lost, cancelled,
   * already settled) or the statement failed, and never rejects for those, so it may be called
   * without `await`. Calls made while one is being written are coalesced: the last value wins.
   * Rejects with a `QueueValidationError` for a value that is not JSON data or is too large.
   * Call it on the message (`message.progress(value)`): detached from it, it cannot tell which
   * message it reports on.
   */
  progress(value: unknown): Promise<boolean>;
  /**
   * For a flow's parent: its children, once they have all ended (see
   * `QueueService.getChildren`), with their states and results. Empty for a message without
   * children. One query per call.
   */
  children<R = unknown>(): Promise<FlowChild<R>[]>;
}

/**
 * What the handler of a processor with `transaction: true` receives: a {@link ProcessorMessage}
 * with the transaction its work and the message's ack commit in.
 */
export interface TransactionalMessage<T = unknown> extends ProcessorMessage<T> {
  /**
   * A TypeORM `EntityManager` on the transaction: write through it (`manager.save`,
   * `manager.getRepository(…)`, `manager.query`) for the writes to commit with the ack. Do not
   * commit, roll back or release it; writes through other connections are not part of it.
   */
  readonly manager: EntityManager;
}

/**
 * What a processor's worker is doing in this process: `notStarted` (workers off, or before the
 * application bootstrapped), `starting`, `waiting` (nothing was due; sleeping until a
 * notification or the poll), `full` (every slot busy), `paused`, `leasing` (a lease statement in
 * flight), `limited` (the processor's `globalConcurrency`, `groupConcurrency` or `rateLimit` left
 * no room; it looks again shortly), `backingOff` (the last lease statement failed; it retries with backoff), `stopped`.
 */
export type WorkerState =
  | 'notStarted'
  | 'starting'
  | 'waiting'
  | 'full'
  | 'paused'
  | 'leasing'
  | 'limited'
  | 'backingOff'
  | 'stopped';

/** A registered processor, as `ProcessorRegistry.getProcessors()` lists it. */
export interface ProcessorInfo {
  readonly queue: string;
  /** `Class.method` of the handler. */
  readonly handler: string;
  /** Options after defaults were applied. */
  readonly options: Readonly<
    Required<
      Omit<
        ProcessorOptions,
        | 'body'
        | 'deadLetterQueue'
        | 'timeoutMs'
        | 'globalConcurrency'
        | 'groupConcurrency'
        | 'rateLimit'
      >
    >
  > & {
    readonly timeoutMs: number | undefined;
    readonly deadLetterQueue: string | undefined;
    readonly body: string | undefined;
    readonly globalConcurrency: number | undefined;
    readonly groupConcurrency: number | undefined;
    readonly rateLimit: Required<RateLimitOptions> | undefined;
  };
  /** Paused in this process by `ProcessorRegistry.pause` (not by `QueueService.pause`). */
  readonly paused: boolean;
  /**
   * Its queue is paused for every replica by `QueueService.pause`, as this process last heard
   * (a NOTIFY, or its poll of the queues table once a second). The worker leases nothing while
   * either this or `paused` is true.
   */
  readonly pausedEverywhere: boolean;
  /** What its worker is doing now. */
  readonly state: WorkerState;
  /** Handlers of this processor running right now in this process. */
  readonly inFlight: number;
}
