import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { type QueueConfig } from '../config/queue-config.js';
import { QueueConnection } from '../database/queue-connection.js';
import { describeError } from '../errors/describe-error.js';
import { ShutdownError } from '../errors/shutdown.error.js';
import { WaitTimeoutError } from '../errors/wait-timeout.error.js';
import { QUEUE_CONFIG } from '../queue.constants.js';
import { type WaitStateRow } from '../store/message-detail-row.js';
import { MessageStore } from '../store/message-store.js';
import { FinishedListener } from './finished-listener.js';
import { waitOutcomeOf } from './wait-outcome.js';

interface Waiter {
  readonly id: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Most ids one read of awaited messages carries. */
const MAX_READ_BATCH = 10_000;
/** How long a failed read waits before it is sent again. */
const READ_RETRY_MS = 1_000;
/** How long the LISTEN connection stays open after the last wait ended, for the next one. */
const IDLE_CLOSE_MS = 30_000;

/**
 * `waitFor` for the whole process: every pending wait, by message id, and the one connection
 * they hear ends on (`FinishedListener`). A wait marks its message awaited, so the database
 * notifies its end whoever ends it (a worker of any process, the reaper, the Python backend, an
 * operator's DELETE); a notification is only an id, so the waits it concerns are read again, in
 * one statement for every id heard meanwhile (one read in flight at a time). When the
 * connection (re)connects, every pending wait is read once, since ends notified while it was
 * down were lost. Without LISTEN (`listen: false`, or while it reconnects), the pending waits
 * are read every `pollIntervalMs`, one statement for all.
 */
@Injectable()
export class ResultWaiters implements BeforeApplicationShutdown {
  private readonly logger = new Logger('QueueModule');
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listener: FinishedListener | undefined;
  /** Ids to read, heard or pending at a reconnect. */
  private toRead = new Set<string>();
  private reading = false;
  private pollTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    @Inject(MessageStore) private readonly store: MessageStore,
    @Inject(QueueConnection) connection: QueueConnection,
    @Inject(QUEUE_CONFIG) private readonly config: QueueConfig,
  ) {
    this.listener = config.workers.listen
      ? new FinishedListener(connection, config, this.logger, {
          onFinished: (id) => {
            if (!this.waiters.has(id)) return;
            this.toRead.add(id);
            this.read();
          },
          onListening: () => this.readAll(),
          onLost: () => this.schedulePoll(),
        })
      : undefined;
  }

  /** Waits waiting now (for tests and health). */
  get pending(): number {
    let count = 0;
    for (const set of this.waiters.values()) count += set.size;
    return count;
  }

  /**
   * Resolves with message `id`'s result once it is `done`; rejects when it ends otherwise, does
   * not exist, or `timeoutMs` passes (see `waitOutcomeOf`). Arguments are checked by the caller.
   */
  waitFor<R>(id: string, timeoutMs: number): Promise<R> {
    if (this.closed) return Promise.reject(new ShutdownError(id));
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter = {
        id,
        resolve: resolve as (result: unknown) => void,
        reject,
        timer: setTimeout(() => {
          if (this.remove(waiter)) reject(new WaitTimeoutError(id, timeoutMs));
        }, timeoutMs),
      };
      let set = this.waiters.get(id);
      if (set === undefined) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
      void this.begin(waiter);
    });
  }

  /** LISTEN first, then mark the message awaited: an end after the mark is notified and heard. */
  private async begin(waiter: Waiter): Promise<void> {
    try {
      if (this.listener !== undefined) await this.listener.start();
      if (this.listener?.listening !== true) this.schedulePoll();
      const row = await this.store.awaitMessage(waiter.id);
      this.apply(waiter.id, row);
    } catch (error) {
      if (this.remove(waiter)) waiter.reject(error as Error);
    }
  }

  /** Settles every wait of `id` if `row` (undefined: no such message) shows it ended. */
  private apply(id: string, row: WaitStateRow | undefined): void {
    const set = this.waiters.get(id);
    if (set === undefined) return;
    const outcome = waitOutcomeOf(id, row);
    if (outcome.kind === 'pending') return;
    for (const waiter of [...set]) {
      if (!this.remove(waiter)) continue;
      if (outcome.kind === 'done') waiter.resolve(outcome.result);
      else waiter.reject(outcome.error);
    }
  }

  /** @returns whether the wait was still pending. */
  private remove(waiter: Waiter): boolean {
    const set = this.waiters.get(waiter.id);
    if (set === undefined || !set.delete(waiter)) return false;
    clearTimeout(waiter.timer);
    if (set.size === 0) this.waiters.delete(waiter.id);
    if (this.waiters.size === 0) this.idle();
    return true;
  }

  private readAll(): void {
    for (const id of this.waiters.keys()) this.toRead.add(id);
    this.read();
  }

  /** Reads the ids heard, one statement in flight; what is heard meanwhile goes in the next. */
  private read(): void {
    if (this.reading || this.toRead.size === 0) return;
    const ids: string[] = [];
    for (const id of this.toRead) {
      if (ids.length === MAX_READ_BATCH) break;
      this.toRead.delete(id);
      if (this.waiters.has(id)) ids.push(id);
    }
    if (ids.length === 0) return;
    this.reading = true;
    this.store
      .waitStates(ids)
      .then(
        (rows) => {
          const byId = new Map(rows.map((row) => [row.id, row]));
          for (const id of ids) this.apply(id, byId.get(id));
        },
        (error: unknown) => {
          this.logger.warn(
            `waitFor could not read ${ids.length} awaited message(s) (${describeError(error)}); reading again in ${READ_RETRY_MS} ms`,
          );
          for (const id of ids) this.toRead.add(id);
          this.retryTimer ??= setTimeout(() => {
            this.retryTimer = undefined;
            this.read();
          }, READ_RETRY_MS).unref();
        },
      )
      .finally(() => {
        this.reading = false;
        if (this.retryTimer === undefined) this.read();
      });
  }

  /** While ends cannot be heard, the pending waits are read every `pollIntervalMs`. */
  private schedulePoll(): void {
    if (this.pollTimer !== undefined || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      if (this.waiters.size === 0 || this.listener?.listening === true) return;
      this.readAll();
      this.schedulePoll();
    }, this.config.workers.pollIntervalMs).unref();
  }

  /** No one waits: the LISTEN connection closes after a while, unless a wait comes first. */
  private idle(): void {
    clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    if (this.listener === undefined || this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.waiters.size === 0) void this.listener?.stop();
    }, IDLE_CLOSE_MS).unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closed = true;
    for (const set of [...this.waiters.values()]) {
      for (const waiter of [...set]) {
        if (this.remove(waiter)) waiter.reject(new ShutdownError(waiter.id));
      }
    }
    clearTimeout(this.idleTimer);
    clearTimeout(this.pollTimer);
    clearTimeout(this.retryTimer);
    await this.listener?.stop();
  }
}
