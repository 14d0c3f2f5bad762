import { type LoggerService } from '@nestjs/common';
import { SnoozeError } from '../errors/snooze.error.js';
import { UnrecoverableError } from '../errors/unrecoverable.error.js';
import { type LeasedMessage } from '../interfaces/queue-message.interface.js';
import { type ProcessorDefinition } from '../processor/processor-definition.js';
import { type QueueService } from '../queue.service.js';
import { MAX_SECONDS } from '../validation/queue-arguments.js';
import { AckBatcher } from './ack-batcher.js';
import { backoffSeconds } from './backoff.js';
import { errorRecordJson } from './error-record.js';
import { type LeaseSettler } from './lease-settler.js';
import { validateBody } from './validate-body.js';

export interface QueueWorkerDependencies {
  readonly queue: QueueService;
  readonly settler: LeaseSettler;
  readonly logger: LoggerService;
  /** How often an idle worker looks for due messages without being notified. */
  readonly pollIntervalMs: number;
}

interface Execution {
  readonly message: LeasedMessage;
  readonly controller: AbortController;
  /** The lease is no longer ours: lost (heartbeat refused) or given back at shutdown. */
  relinquished: boolean;
  /** The handler returned; the heartbeat no longer needs this lease. */
  finished: boolean;
  done?: Promise<void>;
}

/** The longest pause between attempts to reach a database that keeps failing. */
const MAX_FAILURE_BACKOFF_MS = 30_000;

/**
 * Runs one processor: leases messages in one statement per round, runs the handler for each,
 * keeps their leases alive, and settles them. One loop per processor; it never dies of a
 * handler's failure or of a database outage.
 *
 * A round leases as many messages as there are free slots, plus `prefetch` more kept in a local
 * buffer so that short handlers do not wait for a round trip; the buffer is refilled in one
 * statement once half of it is used. One timer per worker extends every lease it holds (running
 * or buffered) in one statement at half the lease, instead of a timer and a statement per
 * message. The loop sleeps until something can have changed: a slot freed, a NOTIFY for its
 * queue, a resume, or the poll interval passed (notifications are lost across reconnects and
 * behind PgBouncer in transaction mode, so polling stays as the fallback).
 */
export class QueueWorker {
  private readonly inFlight = new Map<string, Execution>();
  /** Leased ahead of a free slot, oldest first; `head` is the next to start. */
  private buffer: LeasedMessage[] = [];
  private head = 0;
  /** Acks sent after their handler's slot was freed; shutdown waits for them. */
  private readonly settling = new Set<Promise<void>>();
  private readonly acks: AckBatcher;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Whether the last lease came back full, so more messages are probably waiting. */
  private backlog = true;
  private wakeUp: (() => void) | undefined;
  private wakePending = false;
  private loopDone: Promise<void> | undefined;
  private loopEnded = false;

  constructor(
    readonly definition: ProcessorDefinition,
    private readonly deps: QueueWorkerDependencies,
    private paused: boolean,
  ) {
    this.acks = new AckBatcher(definition.queue, deps.queue, (error, leases) => {
      deps.logger.error(
        `Queue "${definition.queue}": ack of ${leases.length} message(s) failed (${describe(error)}); they will be retried when their leases expire`,
      );
    });
  }

  get queue(): string {
    return this.definition.queue;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Whether the fetch loop runs; false before start and after stop. */
  get isRunning(): boolean {
    return this.loopDone !== undefined && !this.loopEnded;
  }

  private get buffered(): number {
    return this.buffer.length - this.head;
  }

  start(): void {
    if (this.loopDone !== undefined) return;
    this.heartbeatTimer = setInterval(
      () => void this.heartbeat(),
      this.definition.options.leaseSeconds * 500,
    );
    this.loopDone = this.loop().finally(() => {
      this.loopEnded = true;
    });
  }

  /** Something may be due now: a NOTIFY for this queue, or the listener came back. */
  poke(): void {
    this.backlog = true;
    this.wake();
  }

  /** Stops fetching; running handlers finish, buffered messages go back to the queue. */
  pause(): void {
    this.paused = true;
    void this.releaseBuffer();
  }

  resume(): void {
    this.paused = false;
    this.poke();
  }

  /**
   * Stops fetching at once, returns buffered messages, waits for running handlers until
   * `deadline` (epoch ms), then aborts the stragglers' signals and returns their messages to
   * `ready` without waiting for the lease to expire.
   */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loopDone;
    await this.releaseBuffer();
    const running = [...this.inFlight.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      });
      await Promise.race([
        Promise.allSettled(running.map((execution) => execution.done ?? Promise.resolve())),
        timeout,
      ]);
      clearTimeout(timer);
    }
    await Promise.all([...this.inFlight.values()].map((execution) => this.abandon(execution)));
    clearInterval(this.heartbeatTimer);
    await this.acks.drain();
    await Promise.allSettled([...this.settling]);
  }

  private async loop(): Promise<void> {
    const { queue, options } = this.definition;
    const target = options.concurrency + options.prefetch;
    let failures = 0;
    while (!this.stopping) {
      this.dispatch();
      // Refill when the buffer is half used (every round, without prefetch).
      const room = target - this.inFlight.size - this.buffered;
      if (this.paused || room <= 0 || this.buffered > Math.floor(options.prefetch / 2)) {
        await this.waitForWake();
        continue;
      }
      if (!this.backlog) {
        if (await this.waitForWake(this.deps.pollIntervalMs)) this.backlog = true;
        continue;
      }
      // Let the handlers that finish in this turn free their slots (and their acks batch)
      // before counting what to lease.
      await new Promise((resolve) => setImmediate(resolve));
      this.dispatch();
      const want = target - this.inFlight.size - this.buffered;
      if (this.stopping || this.paused || want <= 0) continue;
      let leased: LeasedMessage[];
      try {
        leased = await this.deps.queue.leaseMany(queue, want, {
          leaseSeconds: options.leaseSeconds,
          maxAttempts: options.maxAttempts,
          ...(options.deadLetterQueue === undefined
            ? {}
            : { deadLetterQueue: options.deadLetterQueue }),
        });
      } catch (error) {
        failures += 1;
        const waitMs = Math.min(MAX_FAILURE_BACKOFF_MS, 250 * 2 ** Math.min(failures, 10));
        this.deps.logger.warn(
          `Queue "${queue}": could not lease messages (${describe(error)}); retrying in ${waitMs} ms`,
        );
        await this.sleepUnlessStopping(waitMs);
        continue;
      }
      if (failures > 0) {
        this.deps.logger.log(`Queue "${queue}": leasing works again after ${failures} failures`);
        failures = 0;
      }
      this.backlog = leased.length === want;
      if (this.head > 0 && this.head === this.buffer.length) {
        this.buffer = [];
        this.head = 0;
      }
      for (const message of leased) this.buffer.push(message);
      if (this.stopping || this.paused) {
        await this.releaseBuffer();
        continue;
      }
      this.dispatch();
    }
  }

  /** Starts buffered messages while slots are free. */
  private dispatch(): void {
    const { concurrency } = this.definition.options;
    while (
      !this.stopping &&
      !this.paused &&
      this.inFlight.size < concurrency &&
      this.buffered > 0
    ) {
      const message = this.buffer[this.head]!;
      this.head += 1;
      this.run(message);
    }
    if (this.head > 1_024 && this.head * 2 > this.buffer.length) {
      this.buffer = this.buffer.slice(this.head);
      this.head = 0;
    }
  }

  /** Gives buffered (never started) messages back at once, refunding their attempts. */
  private async releaseBuffer(): Promise<void> {
    const unstarted = this.buffer.slice(this.head);
    this.buffer = [];
    this.head = 0;
    if (unstarted.length === 0) return;
    try {
      await this.deps.settler.releaseUnstarted(this.queue, unstarted);
    } catch (error) {
      this.deps.logger.warn(
        `Queue "${this.queue}": could not return ${unstarted.length} prefetched message(s) (${describe(error)}); they come back when their lease expires`,
      );
    }
  }

  /** Extends every lease this worker holds in one statement; aborts handlers whose lease is gone. */
  private async heartbeat(): Promise<void> {
    const running = [...this.inFlight.values()].filter(
      (execution) => !execution.relinquished && !execution.finished,
    );
    const buffered = this.buffer.slice(this.head);
    if (running.length + buffered.length === 0) return;
    let held: Set<string>;
    try {
      held = await this.deps.settler.heartbeat(
        this.queue,
        [...running.map((execution) => execution.message), ...buffered],
        this.definition.options.leaseSeconds,
      );
    } catch (error) {
      // The next beat retries; if a lease really runs out, that beat reports it lost.
      this.deps.logger.warn(`Queue "${this.queue}": heartbeat failed (${describe(error)})`);
      return;
    }
    for (const execution of running) {
      if (held.has(execution.message.leaseToken) || execution.relinquished || execution.finished) {
        continue;
      }
      execution.relinquished = true;
      execution.controller.abort(
        namedError('LeaseLostError', `the lease of message ${execution.message.id} was lost`),
      );
    }
    const lost = new Set(buffered.filter((m) => !held.has(m.leaseToken)).map((m) => m.leaseToken));
    if (lost.size > 0) {
      this.buffer = this.buffer.slice(this.head).filter((m) => !lost.has(m.leaseToken));
      this.head = 0;
    }
  }

  private run(message: LeasedMessage): void {
    const execution: Execution = {
      message,
      controller: new AbortController(),
      relinquished: false,
      finished: false,
    };
    // Keyed by lease token: the same message may come back to this worker after a lost lease
    // while the first handler is still running.
    this.inFlight.set(message.leaseToken, execution);
    execution.done = this.execute(execution)
      .catch((error: unknown) => {
        this.deps.logger.error(
          `Queue "${this.queue}": message ${message.id} could not be settled (${describe(error)}); it will be retried when its lease expires`,
        );
      })
      .finally(() => {
        execution.finished = true;
        this.inFlight.delete(message.leaseToken);
        this.wake();
      });
  }

  private async execute(execution: Execution): Promise<void> {
    const { message, controller } = execution;
    const { options, handler } = this.definition;

    if (message.attempts > options.maxAttempts) {
      // Leased more often than allowed: earlier attempts died with their worker.
      const error = namedError(
        'AttemptsExhaustedError',
        `leased ${message.attempts} times with maxAttempts ${options.maxAttempts}; the last attempts did not finish (worker crash or lost lease)`,
      );
      await this.deadLetter(execution, errorRecordJson(error, message.attempts));
      return;
    }

    let body = message.body;
    if (options.body !== undefined) {
      const check = await validateBody(options.body, body);
      if (!check.ok) {
        const summary = check.failures
          .map((failure) => Object.values(failure.constraints).join(', '))
          .join('; ');
        const error = namedError('BodyValidationError', `body failed validation: ${summary}`);
        await this.deadLetter(execution, errorRecordJson(error, message.attempts, check.failures));
        return;
      }
      body = check.body;
    }

    let failure: { error: unknown } | undefined;
    try {
      await handler({ ...message, body, signal: controller.signal });
    } catch (error) {
      failure = { error };
    }
    execution.finished = true;
    if (execution.relinquished) {
      this.deps.logger.warn(
        `Queue "${this.queue}": message ${message.id} finished after its lease was lost or released; its result is not recorded`,
      );
      return;
    }
    if (failure === undefined) {
      // The slot frees now; the ack joins the batch of this turn, tracked for shutdown.
      const acked = this.acks.ack(message).then((outcome) => {
        if (outcome === 'refused') {
          this.deps.logger.warn(
            `Queue "${this.queue}": ack of message ${message.id} refused: its lease was lost meanwhile`,
          );
        }
      });
      this.settling.add(acked);
      void acked.finally(() => this.settling.delete(acked));
      return;
    }
    await this.settleFailure(execution, failure.error);
  }

  private async settleFailure(execution: Execution, error: unknown): Promise<void> {
    const { message } = execution;
    const { options } = this.definition;
    if (error instanceof SnoozeError && isValidDelay(error.delaySeconds)) {
      await this.deps.settler.snooze(message, error.delaySeconds);
      return;
    }
    const record = errorRecordJson(error, message.attempts);
    if (error instanceof UnrecoverableError || message.attempts >= options.maxAttempts) {
      await this.deadLetter(execution, record);
      return;
    }
    await this.deps.settler.retry(
      message,
      backoffSeconds(options.backoff, message.attempts),
      record,
    );
  }

  private async deadLetter(execution: Execution, errorJson: string): Promise<void> {
    const { deadLetterQueue } = this.definition.options;
    const moved = await this.deps.settler.deadLetter(execution.message, errorJson, deadLetterQueue);
    if (moved) {
      this.deps.logger.warn(
        `Queue "${this.queue}": message ${execution.message.id} dead-lettered${deadLetterQueue === undefined ? '' : ` to "${deadLetterQueue}"`}`,
      );
    }
  }

  private async abandon(execution: Execution): Promise<void> {
    if (execution.relinquished) return;
    execution.relinquished = true;
    execution.controller.abort(
      namedError('ShutdownError', 'the worker is shutting down and ran out of time'),
    );
    try {
      await this.deps.settler.release(execution.message);
      this.deps.logger.warn(
        `Queue "${this.queue}": message ${execution.message.id} returned to ready at shutdown`,
      );
    } catch (error) {
      this.deps.logger.error(
        `Queue "${this.queue}": could not return message ${execution.message.id} at shutdown (${describe(error)}); it will be retried when its lease expires`,
      );
    }
  }

  private wake(): void {
    const wakeUp = this.wakeUp;
    if (wakeUp === undefined) {
      this.wakePending = true;
      return;
    }
    this.wakeUp = undefined;
    wakeUp();
  }

  /** Resolves `true` when `timeoutMs` passed, `false` when woken (or a wake-up was pending). */
  private waitForWake(timeoutMs?: number): Promise<boolean> {
    if (this.wakePending || this.stopping) {
      this.wakePending = false;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve(false);
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.wakeUp = undefined;
          resolve(true);
        }, timeoutMs);
      }
    });
  }

  /** Waits `ms`, cut short only by stop: a database in trouble must not be hammered on every poke. */
  private async sleepUnlessStopping(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (!this.stopping && Date.now() < until) {
      await this.waitForWake(until - Date.now());
    }
  }
}

function isValidDelay(seconds: unknown): seconds is number {
  return (
    Number.isInteger(seconds) && (seconds as number) >= 0 && (seconds as number) <= MAX_SECONDS
  );
}

function namedError(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
