import { type LoggerService } from '@nestjs/common';
import { type ProcessorDefinition } from '../processor/processor-definition.js';
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
  /** Whether its queue is paused in this process (the registry owns that). */
  readonly isPaused: () => boolean;
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
      onSlotFreed: () => this.signal.wake(),
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

  /** The database answers again: stop backing off. */
  reconnected(): void {
    this.loop.reconnected();
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
