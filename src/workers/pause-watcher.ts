import { type LoggerService } from '@nestjs/common';
import { describeError } from '../errors/describe-error.js';
import { type MessageStore } from '../store/message-store.js';

/**
 * How often a process with workers reads which of its queues are paused for every replica: the
 * fallback for a pause or resume whose NOTIFY did not arrive (the LISTEN connection was down,
 * `listen: false`, PgBouncer in transaction mode). One primary-key lookup per second per process.
 */
export const PAUSE_POLL_INTERVAL_MS = 1_000;

export interface PauseWatcherDependencies {
  /** The queues this process has workers for. */
  readonly queues: readonly string[];
  readonly store: MessageStore;
  readonly logger: LoggerService;
  /** What was heard of a queue's shared pause (the registry keeps it, and pokes its workers). */
  readonly apply: (queue: string, paused: boolean) => void;
  readonly intervalMs?: number;
}

/**
 * Keeps this process's view of the shared pause (`QueueService.pause`) of its workers' queues:
 * the control channel's NOTIFY says it within milliseconds, and a poll of the queues table once a
 * second says it anyway. A poll sent before a NOTIFY of the same queue arrived may have read the
 * state before that change committed, so it does not overrule it.
 */
export class PauseWatcher {
  private readonly queues: ReadonlySet<string>;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** When (`performance.now()`) the last NOTIFY of each queue arrived. */
  private readonly heardAt = new Map<string, number>();
  private failing = false;

  constructor(private readonly deps: PauseWatcherDependencies) {
    this.queues = new Set(deps.queues);
  }

  start(): void {
    if (this.timer !== undefined || this.queues.size === 0) return;
    this.timer = setInterval(
      () => void this.poll(),
      this.deps.intervalMs ?? PAUSE_POLL_INTERVAL_MS,
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** A NOTIFY said that `queue` was paused or resumed. */
  heard(queue: string, paused: boolean): void {
    if (!this.queues.has(queue)) return;
    this.heardAt.set(queue, performance.now());
    this.deps.apply(queue, paused);
  }

  /** Reads the shared pause of every queue now. Never throws: the next poll tries again. */
  async poll(): Promise<void> {
    if (this.polling || this.queues.size === 0) return;
    this.polling = true;
    const sentAt = performance.now();
    let paused: Set<string>;
    try {
      paused = await this.deps.store.pausedQueues([...this.queues]);
    } catch (error) {
      // One line per outage, not one a second; the lease statements check the pause themselves.
      if (!this.failing) {
        this.failing = true;
        this.deps.logger.warn(
          `Could not read which queues are paused (${describeError(error)}); retrying every ${this.deps.intervalMs ?? PAUSE_POLL_INTERVAL_MS} ms`,
        );
      }
      return;
    } finally {
      this.polling = false;
    }
    if (this.failing) {
      this.failing = false;
      this.deps.logger.log('Reading which queues are paused works again');
    }
    for (const queue of this.queues) {
      if ((this.heardAt.get(queue) ?? Number.NEGATIVE_INFINITY) >= sentAt) continue;
      this.deps.apply(queue, paused.has(queue));
    }
  }
}
