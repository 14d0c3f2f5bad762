import { withRetries } from '../async/with-retries.js';
import { type QueueLease } from '../interfaces/queue-message.interface.js';

/** How one ack ended: recorded, refused (the lease was lost meanwhile), or its statement failed. */
export type AckOutcome = 'acked' | 'refused' | 'failed';

interface PendingAck {
  readonly lease: QueueLease;
  readonly resolve: (outcome: AckOutcome) => void;
  /** The handler's result as JSON, to be stored with the ack; undefined for none. */
  readonly result: string | undefined;
}

/** Most leases one ack statement carries. */
export const MAX_ACK_BATCH = 1_000;

/**
 * Sends one fenced ack statement; resolves with the ids acked and those still held but locked
 * elsewhere (`busy`). A lease in neither was lost. `resultsByTokenJson`, only when some ack of
 * the batch carries a result: a JSON object of each such result by its lease token.
 */
export type SendAcks = (
  leases: readonly QueueLease[],
  resultsByTokenJson?: string,
) => Promise<{ readonly acked: readonly string[]; readonly busy: readonly string[] }>;

/**
 * How long a busy ack (its row locked by someone else) waits before it is sent again. Its lease
 * stays extended meanwhile (`unsettled`), and the acks behind it are not held up.
 */
export const BUSY_ACK_RETRY_MS = 250;

/**
 * Pauses before each retry of a failed ack statement. An ack is idempotent under its fence, so
 * a batch that failed (a killed backend, a restart) is sent again rather than left for its
 * leases to expire, which would run every message in it a second time.
 */
export const ACK_RETRY_DELAYS_MS: readonly number[] = [200, 1_000, 3_000];

/**
 * Coalesces the acks of one queue's handlers into fenced ack statements, one in flight at a
 * time. No timer: when nothing is in flight a batch flushes at the next `setImmediate`, so a lone
 * ack waits no longer than the current turn; while a statement is in flight, acks gather and go
 * together as soon as it returns, so the batch grows with the load instead of the statement count.
 */
export class AckBatcher {
  private pending: PendingAck[] = [];
  private scheduled = false;
  private inFlight: Promise<void> | undefined;
  /** The leases of the statement in flight (or being retried). */
  private sending: readonly QueueLease[] = [];
  /** Busy acks waiting to be sent again. */
  private busy: PendingAck[] = [];
  /** Resolves when the busy acks have been put back into `pending`. */
  private busyTimer: Promise<void> | undefined;

  /**
   * `onBatchFailed` hears once per batch that failed every retry, not once per message: during a
   * database outage a prefetching worker would otherwise log a thousand lines per second.
   */
  constructor(
    private readonly send: SendAcks,
    private readonly onBatchFailed: (error: unknown, leases: readonly QueueLease[]) => void,
    private readonly retryDelaysMs: readonly number[] = ACK_RETRY_DELAYS_MS,
    private readonly busyRetryMs = BUSY_ACK_RETRY_MS,
  ) {}

  /**
   * Never rejects: a failed statement resolves `'failed'` for every ack it carried. `result`: the
   * handler's return value as JSON, stored with the ack.
   */
  ack(lease: QueueLease, result?: string): Promise<AckOutcome> {
    return new Promise((resolve) => {
      this.pending.push({ lease, resolve, result });
      if (this.inFlight !== undefined || this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /**
   * Leases whose handler finished and whose ack has not landed yet: their worker keeps extending
   * them, so an ack that lags (a slow database, retries) does not let them expire and run again.
   */
  unsettled(): QueueLease[] {
    return [...this.sending, ...[...this.pending, ...this.busy].map((pending) => pending.lease)];
  }

  /**
   * Sends what is pending and waits until every ack statement has returned, busy acks included
   * (the caller bounds the wait: a row may stay locked for as long as someone holds it).
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.inFlight !== undefined) {
        await this.inFlight.catch(() => undefined);
        continue;
      }
      if (this.busyTimer !== undefined) {
        await this.busyTimer;
        continue;
      }
      if (this.pending.length === 0) return;
      this.flush();
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.inFlight !== undefined) return;
    const batch = this.pending.splice(0, MAX_ACK_BATCH);
    if (batch.length === 0) return;
    const leases = batch.map((pending) => pending.lease);
    this.sending = leases;
    const results = resultsByTokenJson(batch);
    const work = withRetries(() => this.send(leases, results), { delaysMs: this.retryDelaysMs })
      .then(
        (result) => {
          this.sending = [];
          const acked = new Set(result.acked);
          const busy = new Set(result.busy);
          for (const pending of batch) {
            if (acked.has(pending.lease.id)) pending.resolve('acked');
            else if (busy.has(pending.lease.id)) this.busy.push(pending);
            else pending.resolve('refused');
          }
          if (this.busy.length > 0) this.retryBusyLater();
        },
        (error: unknown) => {
          this.sending = [];
          this.onBatchFailed(error, leases);
          for (const pending of batch) pending.resolve('failed');
        },
      )
      .finally(() => {
        this.inFlight = undefined;
        if (this.pending.length > 0) this.flush();
      });
    this.inFlight = work;
  }

  /** Sends the busy acks again after a pause, with whatever is pending then. */
  private retryBusyLater(): void {
    if (this.busyTimer !== undefined) return;
    this.busyTimer = new Promise<void>((resolve) => {
      // Unref'd: a process that has given up on its acks (the stop deadline) may exit.
      setTimeout(() => {
        this.busyTimer = undefined;
        this.pending.unshift(...this.busy);
        this.busy = [];
        resolve();
        this.flush();
      }, this.busyRetryMs).unref();
    });
  }
}

/**
 * The results a batch carries, as one JSON object keyed by lease token (UUIDs: nothing to
 * escape); undefined when no ack of it has one, so a batch of plain acks sends the plain
 * statement.
 */
function resultsByTokenJson(batch: readonly PendingAck[]): string | undefined {
  let json: string | undefined;
  for (const pending of batch) {
    if (pending.result === undefined) continue;
    json = `${json === undefined ? '{' : `${json},`}"${pending.lease.leaseToken}":${pending.result}`;
  }
  return json === undefined ? undefined : `${json}}`;
}
