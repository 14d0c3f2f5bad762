import { type LoggerService } from '@nestjs/common';
import { type LeasedMessage } from '../interfaces/queue-message.interface.js';
import { type ProcessorDefinition } from '../processor/processor-definition.js';
import { type QueueEvents } from '../events/queue-events.js';
import { type MessageStore } from '../store/message-store.js';
import { FetchLoop, type FetchState } from './fetch-loop.js';
import { LeaseKeeper } from './lease-keeper.js';
import { MessageExecutor } from './message-executor.js';
import { WakeSignal } from './wake-signal.js';

export interface QueueWorkerDependencies {
  readonly store: MessageStore;
  readonly logger: LoggerService;
  /** How often an idle worker looks for due messages without being notified. */
  readonly pollIntervalMs: number;
  /**
   * Whether its queue is paused, in this process or for every replica as this process last heard
   * (the registry owns both).
   */
  readonly isPaused: () => boolean;
  /** Where `@OnQueueEvent` listeners hear of the messages it settles. */
  readonly events?: QueueEvents;
  /** Largest result a handler may return, in bytes of JSON (the module's `maxBodyBytes`). */
  readonly maxResultBytes?: number;
}

/**
 * Runs one processor in this process, from four parts: the fetch loop (leasing and the prefetch
 * buffer), the executor (running handlers and settling their messages), the lease keeper
 * (heartbeats for both) and the wake signal the loop sleeps on. This class only wires them and
 * orders their start and stop.
 */
export class QueueWorker {
  private readonly signal = new WakeSignal();
  private readonly executor: MessageExecutor;
  private readonly loop: FetchLoop;
  private readonly keeper: LeaseKeeper;

  constructor(
    readonly definition: ProcessorDefinition,
    deps: QueueWorkerDependencies,
  ) {
    const { queue, options } = definition;
    this.executor = new MessageExecutor({
      definition,
      store: deps.store,
      logger: deps.logger,
      onSlotFreed: () => this.loop.slotFreed(),
      events: deps.events,
      maxResultBytes: deps.maxResultBytes,
    });
    this.loop = new FetchLoop({
      queue,
      options,
      store: deps.store,
      slots: this.executor,
      signal: this.signal,
      isPaused: deps.isPaused,
      pollIntervalMs: deps.pollIntervalMs,
      logger: deps.logger,
      metrics: deps.events?.metrics?.forQueue(queue),
    });
    this.keeper = new LeaseKeeper({
      queue,
      leaseSeconds: options.leaseSeconds,
      store: deps.store,
      logger: deps.logger,
      held: () => [...this.executor.heldLeases(), ...this.loop.buffered()],
      onLost: (tokens) => {
        this.executor.abortLost(tokens);
        this.loop.dropBuffered(tokens);
      },
      onKept: (tokens, sentAt) => this.loop.confirmBuffered(tokens, sentAt),
      onCancelRequested: (tokens) => this.cancel((message) => tokens.has(message.leaseToken)),
    });
  }

  get queue(): string {
    return this.definition.queue;
  }

  /** Handlers running now. */
  get inFlightCount(): number {
    return this.executor.running;
  }

  /** Whether the fetch loop runs; false before start and after stop. */
  get isRunning(): boolean {
    return this.loop.isRunning;
  }

  get state(): FetchState {
    return this.loop.state;
  }

  start(): void {
    this.keeper.start();
    this.loop.start();
  }

  /** Something may be due now, or the pause state changed: look again. */
  poke(): void {
    this.loop.poke();
  }

  /**
   * A cancel was heard for message `id` (a NOTIFY): aborts its handler, or drops it from the
   * buffer, if this worker holds it; otherwise remembers it for a lease statement in flight.
   */
  cancelMessage(id: string): void {
    if (!this.cancel((message) => message.id === id)) this.executor.rememberCancel(id);
  }

  /** The database answers again: stop backing off. */
  reconnected(): void {
    this.loop.reconnected();
  }

  /** Cancels the held messages `match` selects; whether any matched. */
  private cancel(match: (message: LeasedMessage) => boolean): boolean {
    const running = this.executor.cancel(match);
    const buffered = this.loop.takeBuffered(match);
    for (const message of buffered) this.executor.cancelUnstarted(message);
    return running || buffered.length > 0;
  }

  /**
   * Stops fetching at once and gives buffered messages back, waits for running handlers until
   * `deadline` (epoch ms), returns the stragglers' messages to `ready`, and waits for the acks.
   * Leases stay alive until then.
   */
  async stop(deadline: number): Promise<void> {
    await this.loop.stop();
    await this.executor.stop(deadline);
    this.keeper.stop();
  }
}
