import { type LoggerService } from '@nestjs/common';
import { describeError } from '../errors/describe-error.js';
import { type QueueLease } from '../interfaces/queue-message.interface.js';
import { type MessageStore } from '../store/message-store.js';

export interface LeaseKeeperDependencies {
  readonly queue: string;
  readonly leaseSeconds: number;
  readonly store: MessageStore;
  readonly logger: LoggerService;
  /** Every lease the worker holds now: running handlers', unsettled acks', buffered messages'. */
  readonly held: () => readonly QueueLease[];
  /** The leases (by token) that the database no longer holds for this worker. */
  readonly onLost: (tokens: ReadonlySet<string>) => void;
  /**
   * The leases (by token) a beat extended, and when that beat's statement was sent
   * (`performance.now()`): they last at least `leaseSeconds` from then.
   */
  readonly onKept?: (tokens: ReadonlySet<string>, sentAt: number) => void;
  /**
   * The held leases (by token) whose message has a cancel request: the fallback for a cancel
   * whose NOTIFY did not arrive.
   */
  readonly onCancelRequested?: (tokens: ReadonlySet<string>) => void;
}

/**
 * Keeps a worker's leases alive: one timer per worker, and at each half-lease one statement that
 * extends every lease it holds, instead of a timer and a statement per message. A lease the
 * statement did not extend was lost (reaped or taken by another worker) and is reported; so is a
 * lease whose message has a cancel request.
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  /** A beat whose statement has not returned: the next one waits for it instead of piling up. */
  private beating = false;

  constructor(private readonly deps: LeaseKeeperDependencies) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.beat(), this.deps.leaseSeconds * 500);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One heartbeat; skipped while the previous one runs. Never throws: the next beat retries. */
  async beat(): Promise<void> {
    const { queue, store, leaseSeconds, logger } = this.deps;
    if (this.beating) return;
    const held = this.deps.held();
    if (held.length === 0) return;
    let kept: Set<string>;
    let cancelRequested: Set<string>;
    this.beating = true;
    const sentAt = performance.now();
    try {
      ({ kept, cancelRequested } = await store.heartbeat(queue, held, leaseSeconds));
    } catch (error) {
      // If a lease really runs out meanwhile, the next beat reports it lost.
      logger.warn(`Queue "${queue}": heartbeat failed (${describeError(error)})`);
      return;
    } finally {
      this.beating = false;
    }
    const lost = new Set<string>();
    for (const message of held) {
      if (!kept.has(message.leaseToken)) lost.add(message.leaseToken);
    }
    if (lost.size > 0) this.deps.onLost(lost);
    this.deps.onKept?.(kept, sentAt);
    if (cancelRequested.size > 0) this.deps.onCancelRequested?.(cancelRequested);
  }
}
