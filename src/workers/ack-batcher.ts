import { type QueueLease } from '../interfaces/queue-message.interface.js';
import { type QueueService } from '../queue.service.js';

interface PendingAck {
  readonly lease: QueueLease;
  readonly resolve: (acked: boolean) => void;
  readonly reject: (error: unknown) => void;
}

/** Most leases one ack statement carries. */
const MAX_BATCH = 1_000;

/**
 * Coalesces the acks of one queue's handlers that finish in the same turn of the event loop into
 * one fenced `ackMany` statement. No timer: a batch flushes at the next `setImmediate`, so a lone
 * ack waits no longer than the current turn, and a burst of completions costs one round trip.
 */
export class AckBatcher {
  private pending: PendingAck[] = [];
  private scheduled = false;
  private readonly flushing = new Set<Promise<void>>();

  constructor(
    private readonly queue: string,
    private readonly service: QueueService,
  ) {}

  /** Resolves `true` once acked, `false` when the lease was no longer held. */
  ack(lease: QueueLease): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ lease, resolve, reject });
      if (this.pending.length >= MAX_BATCH) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends what is pending and waits for every ack statement in flight. */
  async drain(): Promise<void> {
    this.flush();
    await Promise.allSettled([...this.flushing]);
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const work = this.service
      .ackMany(
        this.queue,
        batch.map((pending) => pending.lease),
      )
      .then(
        (ids) => {
          const acked = new Set(ids);
          for (const pending of batch) pending.resolve(acked.has(pending.lease.id));
        },
        (error: unknown) => {
          for (const pending of batch) pending.reject(error);
        },
      )
      .finally(() => this.flushing.delete(work));
    this.flushing.add(work);
  }
}
