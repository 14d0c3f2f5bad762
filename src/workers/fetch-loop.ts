import { type LoggerService } from '@nestjs/common';
import { isFlowControlled, type ResolvedProcessorOptions } from '../config/processor-options.js';
import { describeError } from '../errors/describe-error.js';
import { type WorkerState } from '../interfaces/processor-message.interface.js';
import { type QueueMetricHooks } from '../interfaces/metric-hooks.interface.js';
import { type LeasedMessage } from '../interfaces/queue-message.interface.js';
import { type LeasePolicy, type MessageStore } from '../store/message-store.js';
import { MAX_ACK_BATCH } from './ack-batcher.js';
import { FIRST_TURN, nextGroupTurn } from './group-turn.js';
import { leaseAhead } from './lease-ahead.js';
import { ScanStart } from './scan-start.js';
import { PrefetchBuffer } from './prefetch-buffer.js';
import { type WakeSignal } from './wake-signal.js';

/** Where the loop is; see `WorkerState` (`notStarted` is the registry's, for no worker). */
export type FetchState = Exclude<WorkerState, 'notStarted'>;

/** The slots the loop fills: the worker's executor. */
export interface WorkerSlots {
  readonly running: number;
  /** How long a slot stays busy per message, on average; undefined before one finished. */
  readonly meanHandlerMs: number | undefined;
  /** Finished messages whose ack has not landed yet. */
  readonly unsettledAcks: number;
  start(message: LeasedMessage): void;
}

export interface FetchLoopDependencies {
  readonly queue: string;
  readonly options: ResolvedProcessorOptions;
  readonly store: MessageStore;
  readonly slots: WorkerSlots;
  readonly signal: WakeSignal;
  /**
   * Whether the queue is paused: in this process, or for every replica as this process last heard
   * (the registry owns both).
   */
  readonly isPaused: () => boolean;
  /** How often a waiting loop looks for due messages without being notified. */
  readonly pollIntervalMs: number;
  readonly logger: LoggerService;
  /** The queue's metrics; undefined when they are off. */
  readonly metrics?: QueueMetricHooks;
}

/**
 * Finished messages whose acks have not landed, past which the loop leases no more: when acks
 * lag (a slow database, a held row lock, retries), the worker waits for them instead of running
 * ever more messages whose acks queue up in memory. Two full ack statements' worth, so a worker
 * whose acks keep up never meets it.
 */
export const MAX_UNSETTLED_ACKS = 2 * MAX_ACK_BATCH;

/** How long after an empty lease that a poke sent the loop looks once more (see `pokesRechecked`). */
export const POKE_RECHECK_MS = 25;

/** What one lease statement gave the loop. */
interface Leased {
  readonly messages: LeasedMessage[];
  readonly bodyBytes: number[];
  /** Whether more messages are probably due. */
  readonly backlog: boolean;
  /** The limits left no room for more: wait about this long before the next lease. */
  readonly limitedForMs?: number;
}

/**
 * How long a worker whose limits are full (the queue's `globalConcurrency` reached by other
 * replicas) waits before it counts again; its own acks wake it sooner. Other replicas' acks send
 * no notification: polling this often costs one short transaction per worker per interval.
 */
export const LIMITED_RETRY_MS = 100;

/** The longest pause between attempts to reach a database that keeps failing. */
const MAX_FAILURE_BACKOFF_MS = 30_000;

/**
 * A worker's fetch side. Each round leases, in one statement, as many messages as there are free
 * slots plus some more kept in a local buffer (see `leaseAhead`), so that short handlers do not
 * wait for a round trip; the buffer is refilled once half of it is used, and never holds more
 * than `prefetchBytes` of bodies beyond one message. Between rounds the loop sleeps on
 * the wake signal until something can have changed: a slot freed, a NOTIFY for its queue, a
 * resume, or the poll interval passed (notifications are lost across reconnects and behind
 * PgBouncer in transaction mode, so polling stays as the fallback). It never dies of a database
 * outage: a failed lease backs off and tries again.
 */
export class FetchLoop {
  private stateNow: FetchState = 'starting';
  private readonly buffer = new PrefetchBuffer();
  private readonly scanStart = new ScanStart();
  /** Whether the last lease came back full, so more messages are probably waiting. */
  private backlog = true;
  /** The LISTEN connection came back since the last lease attempt: the database answers. */
  private connectionBack = false;
  /**
   * How many times the loop was poked. A poke that lands while a lease statement is in flight
   * may announce a message that statement's snapshot could not see: the lease's own verdict on
   * the backlog must not overwrite it, or the loop sleeps through it until the next poll.
   */
  private pokes = 0;
  /**
   * A NOTIFY can reach this process a moment before its row is visible to a new snapshot of
   * another session (seen behind PgBouncer: a lease sent on the poke found nothing, the same
   * lease 5 ms later found the message). A lease that a poke sent and that found nothing is
   * therefore sent once more after POKE_RECHECK_MS, instead of leaving the message to the next
   * poll. `pokesRechecked` is the poke count already looked at again, so a queue that is really
   * empty costs one more lease per NOTIFY at most.
   */
  private pokesRechecked = 0;
  private lookAgainSoon = false;
  /**
   * The last lease came back short: the queue held fewer due messages than it asked for. The
   * next one, usually sent on the NOTIFY of a new message to a worker that is idle, is
   * `idleLeaseSql`: prepared and planned once per connection, so that planning is not part of
   * the wake-up latency. It takes at most `concurrency` messages; a full one means a backlog,
   * which the next lease (planned for its values) prefetches.
   */
  private drained = false;
  private stopping = false;
  private done: Promise<void> | undefined;
  private readonly policy: LeasePolicy;
  /** Where the next grouped lease's walk over the groups starts. */
  private turn = FIRST_TURN;

  constructor(private readonly deps: FetchLoopDependencies) {
    const { leaseSeconds, maxAttempts, deadLetterQueue } = deps.options;
    this.policy = {
      leaseSeconds,
      maxAttempts,
      ...(deadLetterQueue === undefined ? {} : { deadLetterQueue }),
    };
  }

  get state(): FetchState {
    return this.stateNow;
  }

  /** Whether the loop runs: false before start and once it has ended. */
  get isRunning(): boolean {
    return this.done !== undefined && this.stateNow !== 'stopped';
  }

  /** Messages leased ahead and not started, oldest first. */
  buffered(): LeasedMessage[] {
    return this.buffer.peekAll();
  }

  start(): void {
    this.done ??= this.run().finally(() => {
      this.stateNow = 'stopped';
    });
  }

  /** Something may be due now: a NOTIFY for this queue, the listener came back, a resume. */
  poke(): void {
    this.pokes += 1;
    this.backlog = true;
    this.deps.signal.wake();
  }

  /**
   * The database answers again (the LISTEN connection reconnected): a loop backing off from
   * failed leases tries again now, with its backoff started over, instead of sleeping it out.
   */
  reconnected(): void {
    this.connectionBack = true;
    this.poke();
  }

  /** Forgets buffered messages whose leases were lost. */
  dropBuffered(tokens: ReadonlySet<string>): void {
    this.buffer.drop(tokens);
  }

  /**
   * Takes the buffered messages `match` selects out of the buffer (their cancel was requested),
   * so they never start; the caller settles them. The loop may lease again in their place.
   */
  takeBuffered(match: (message: LeasedMessage) => boolean): LeasedMessage[] {
    const taken = this.buffer.peekAll().filter(match);
    if (taken.length === 0) return taken;
    this.buffer.drop(new Set(taken.map((message) => message.leaseToken)));
    this.deps.signal.wake();
    return taken;
  }

  /** A heartbeat sent at `sentAt` extended these leases: buffered ones may start until then. */
  confirmBuffered(tokens: ReadonlySet<string>, sentAt: number): void {
    this.buffer.extend(tokens, sentAt + this.deps.options.leaseSeconds * 1000);
  }

  /**
   * A slot freed (or an ack landed). While a lease statement is in flight the loop is not there
   * to start the next buffered message, so this starts it: otherwise every slot that finished
   * during the statement stayed idle until it returned, and a worker with fast handlers spent
   * most of each lease's round trip doing nothing (measured: the buffer held 500 messages while
   * 16 slots waited 10–25 ms per lease).
   */
  slotFreed(): void {
    if (this.stateNow === 'leasing') this.dispatch();
    this.deps.signal.wake();
  }

  /** Ends the loop and gives the buffered messages back. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.deps.signal.close();
    await this.done;
    await this.releaseBuffer();
  }

  private async run(): Promise<void> {
    const { queue, options, signal, slots } = this.deps;
    let failures = 0;
    let backoffStep = 0;
    while (!this.stopping) {
      this.dispatch();
      if (this.deps.isPaused()) {
        this.stateNow = 'paused';
        await this.releaseBuffer();
        await signal.wait();
        continue;
      }
      // Refill when the buffer is half used (every round, without prefetch) and under its bytes.
      const ahead = this.ahead();
      const room = options.concurrency + ahead - slots.running - this.buffer.size;
      if (
        room <= 0 ||
        slots.unsettledAcks >= MAX_UNSETTLED_ACKS ||
        this.buffer.size > Math.floor(ahead / 2) ||
        this.buffer.bytes >= options.prefetchBytes
      ) {
        this.stateNow = 'full';
        await signal.wait();
        continue;
      }
      if (!this.backlog) {
        this.stateNow = 'waiting';
        const waitMs = this.lookAgainSoon ? POKE_RECHECK_MS : this.deps.pollIntervalMs;
        this.lookAgainSoon = false;
        if (await signal.wait(waitMs)) this.backlog = true;
        continue;
      }
      // Let the handlers that finish in this turn free their slots (and their acks batch)
      // before counting what to lease.
      await new Promise((resolve) => setImmediate(resolve));
      this.dispatch();
      const want = options.concurrency + this.ahead() - slots.running - this.buffer.size;
      if (this.stopping || this.deps.isPaused() || want <= 0) continue;
      this.stateNow = 'leasing';
      const leasedAt = performance.now();
      const maxBytes = Math.max(1, options.prefetchBytes - this.buffer.bytes);
      const pokesBefore = this.pokes;
      let leased: Leased;
      try {
        leased = await this.leaseOnce(want, leasedAt, maxBytes);
      } catch (error) {
        failures += 1;
        backoffStep += 1;
        const waitMs = Math.min(MAX_FAILURE_BACKOFF_MS, 250 * 2 ** Math.min(backoffStep, 10));
        this.deps.logger.warn(
          `Queue "${queue}": could not lease messages (${describeError(error)}); retrying in ${waitMs} ms, or when the database answers again`,
        );
        this.stateNow = 'backingOff';
        await signal.sleep(waitMs, () => this.connectionBack);
        if (this.connectionBack) {
          this.connectionBack = false;
          backoffStep = 0;
        }
        continue;
      }
      const { metrics } = this.deps;
      const arrivedAt = metrics === undefined ? 0 : performance.now();
      if (metrics !== undefined) metrics.leaseStatementSeconds((arrivedAt - leasedAt) / 1000);
      this.connectionBack = false;
      if (failures > 0) {
        this.deps.logger.log(`Queue "${queue}": leasing works again after ${failures} failures`);
        failures = 0;
        backoffStep = 0;
      }
      this.backlog = leased.backlog || this.pokes !== pokesBefore;
      if (leased.messages.length === 0 && !this.backlog && pokesBefore !== this.pokesRechecked) {
        this.pokesRechecked = pokesBefore;
        this.lookAgainSoon = true;
      }
      this.buffer.push(
        leased.messages,
        leased.bodyBytes,
        leasedAt + options.leaseSeconds * 1000,
        arrivedAt,
      );
      if (leased.limitedForMs !== undefined) {
        // The limits, not the queue, stopped this lease: look again once they may have room,
        // woken early only by news from this process (a slot freed, an ack landed).
        this.dispatch();
        this.stateNow = 'limited';
        await signal.wait(leased.limitedForMs);
        this.backlog = true;
      }
    }
  }

  /**
   * One lease statement (a transaction, under flow control): the messages, whether more are
   * probably waiting, and how long to wait when the limits left no room.
   */
  private async leaseOnce(want: number, leasedAt: number, maxBytes: number): Promise<Leased> {
    const { queue, options, store } = this.deps;
    if (!isFlowControlled(options)) {
      const idle = this.drained;
      const limit = idle ? Math.min(want, options.concurrency) : want;
      const batch = await store.lease(
        queue,
        limit,
        this.policy,
        maxBytes,
        'leaseMany',
        this.scanStart.next(leasedAt),
        idle ? options.concurrency : undefined,
      );
      this.scanStart.reached(batch.last);
      // A batch cut short by the byte budget says nothing about the backlog: assume one.
      const bytes = batch.bodyBytes.reduce((sum, size) => sum + size, 0);
      const full = batch.messages.length === limit || bytes >= maxBytes;
      this.drained = !full;
      const followFromHead = batch.messages.length === 0 && this.scanStart.foundNone();
      return { ...batch, backlog: full || followFromHead };
    }
    const batch = await store.leaseWithinLimits(
      queue,
      want,
      this.policy,
      {
        ...(options.globalConcurrency === undefined
          ? {}
          : { globalConcurrency: options.globalConcurrency }),
        ...(options.groupConcurrency === undefined
          ? {}
          : { groupConcurrency: options.groupConcurrency }),
        ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
      },
      this.turn,
    );
    this.turn = nextGroupTurn(this.turn, batch.lastGroup);
    const limited = batch.room < want && batch.messages.length === batch.room;
    return {
      messages: batch.messages,
      bodyBytes: batch.bodyBytes,
      backlog: batch.messages.length === want,
      ...(limited
        ? { limitedForMs: Math.min(this.deps.pollIntervalMs, batch.rateWaitMs ?? LIMITED_RETRY_MS) }
        : {}),
    };
  }

  /** Messages to keep leased ahead of free slots now. */
  private ahead(): number {
    const { options, slots } = this.deps;
    return leaseAhead({
      prefetch: options.prefetch,
      concurrency: options.concurrency,
      meanHandlerMs: slots.meanHandlerMs,
    });
  }

  /**
   * Starts buffered messages while slots are free. A message whose lease may have run out while
   * it waited (the database was unreachable, so no heartbeat extended it) is given back instead:
   * the reaper may already have handed it to another worker, and starting it here too would run
   * it twice.
   */
  private dispatch(): void {
    const { slots, options, metrics } = this.deps;
    if (this.stopping || this.deps.isPaused()) return;
    const lapsed: LeasedMessage[] = [];
    const now = performance.now();
    while (slots.running < options.concurrency) {
      const message = this.buffer.takeLive(now, lapsed);
      if (message === undefined) break;
      if (metrics !== undefined) {
        metrics.leaseToStartSeconds(Math.max(0, now - this.buffer.lastArrivedAt) / 1000);
      }
      slots.start(message);
    }
    if (lapsed.length > 0) void this.giveBack(lapsed);
  }

  /** Returns buffered messages whose leases may have lapsed; fenced, so a reaped one is left. */
  private async giveBack(lapsed: LeasedMessage[]): Promise<void> {
    try {
      const returned = await this.deps.store.releaseUnstarted(this.deps.queue, lapsed);
      this.deps.logger.warn(
        `Queue "${this.deps.queue}": ${lapsed.length} prefetched message(s) waited past their lease without a heartbeat; ${returned} given back to ready, the others had been reaped`,
      );
    } catch (error) {
      this.deps.logger.warn(
        `Queue "${this.deps.queue}": could not give back ${lapsed.length} prefetched message(s) whose lease lapsed (${describeError(error)}); they come back when the reaper finds them`,
      );
    }
  }

  /**
   * Gives buffered (never started) messages back at once, refunding their attempts. They are
   * behind the scan's position now, so the next lease starts from the head: otherwise, after a
   * pause and resume (or many), they would wait for the once-a-second head scans, `want` at a
   * time.
   */
  private async releaseBuffer(): Promise<void> {
    const unstarted = this.buffer.takeAll();
    if (unstarted.length === 0) return;
    this.scanStart.restart();
    try {
      await this.deps.store.releaseUnstarted(this.deps.queue, unstarted);
    } catch (error) {
      this.deps.logger.warn(
        `Queue "${this.deps.queue}": could not return ${unstarted.length} prefetched message(s) (${describeError(error)}); they come back when their lease expires`,
      );
    }
  }
}
