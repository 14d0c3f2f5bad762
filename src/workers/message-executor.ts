import { type LoggerService } from '@nestjs/common';
import { validateBody } from '../body/validate-body.js';
import { AttemptsExhaustedError } from '../errors/attempts-exhausted.error.js';
import { BodyValidationError } from '../errors/body-validation.error.js';
import { HandlerTimeoutError } from '../errors/handler-timeout.error.js';
import { LeaseLostError } from '../errors/lease-lost.error.js';
import { MessageCancelledError } from '../errors/message-cancelled.error.js';
import { ShutdownError } from '../errors/shutdown.error.js';
import { type QueueMetricHooks } from '../interfaces/metric-hooks.interface.js';
import { type LeasedMessage, type QueueLease } from '../interfaces/queue-message.interface.js';
import { NO_INTEREST, type QueueEventInterest, type QueueEvents } from '../events/queue-events.js';
import { type ProcessorDefinition } from '../processor/processor-definition.js';
import { type FailureSettlement, type MessageStore } from '../store/message-store.js';
import { AckBatcher } from './ack-batcher.js';
import { withDeadline } from '../async/with-deadline.js';
import { describeError, describeFailure } from '../errors/describe-error.js';
import { errorRecordJson } from './error-record.js';
import { nextMeanMs } from './lease-ahead.js';
import { FailureLines } from './failure-lines.js';
import { isOverrun, outcomeOf, type HandlerResult } from './outcome.js';
import { serializeBody } from '../body/serialize-body.js';
import { DEFAULT_MAX_BODY_BYTES } from '../config/defaults.js';
import { MAX_PROGRESS_BYTES } from '../config/limits.js';
import { QueueValidationError } from '../errors/queue-validation.error.js';
import { ResultValidationError } from '../errors/result-validation.error.js';
import { ProgressWriter } from './progress-writer.js';
import { runInTransaction } from './transactional-completion.js';
import { ProcessSpan, tracingLive } from '../tracing/queue-tracing.js';
import { LazyAbort } from '../async/lazy-abort.js';
import { HandlerMessage, type HandlerMethods } from './handler-message.js';

/** One handler running one leased message. */
interface Execution {
  readonly message: LeasedMessage;
  /** The handler's `signal`; its AbortController is made only if someone reads or aborts it. */
  readonly controller: LazyAbort;
  /**
   * The lease is no longer ours: `lost` (the heartbeat was refused, someone else may run it) or
   * given back at `shutdown` (intended; it runs again after the restart).
   */
  relinquished?: 'lost' | 'shutdown';
  /** Its cancel was requested: the handler's signal is aborted and the message settles `cancelled`. */
  cancelled?: boolean;
  /** Ends the wait for a running handler (set while it runs): a cancel resolves it early. */
  stopWaiting?: (result: HandlerResult) => void;
  /** The handler returned; the lease keeper no longer needs this lease. */
  finished: boolean;
  done?: Promise<void>;
  /** Its progress writes, made on the first `message.progress()` call. */
  progress?: ProgressWriter;
  /** A `transaction: true` handler's transaction, discarded if shutdown abandons it. */
  transaction?: { discard(): void };
  /** Its OpenTelemetry process span; none unless a tracer provider is registered. */
  readonly span: ProcessSpan | undefined;
}

export interface MessageExecutorDependencies {
  readonly definition: ProcessorDefinition;
  readonly store: MessageStore;
  readonly logger: LoggerService;
  /** A slot freed: the fetch loop may start or lease more. */
  readonly onSlotFreed: () => void;
  /** The clock of the failure lines' rate limit, in ms; `performance.now` unless a test sets it. */
  readonly now?: () => number;
  /** Where `@OnQueueEvent` listeners hear of settled messages; none when absent. */
  readonly events?: QueueEvents;
  /** Largest result a handler may return, in bytes of JSON: the module's `maxBodyBytes`. */
  readonly maxResultBytes?: number;
}

/**
 * How long a cancel heard for a message this worker does not hold is remembered: a lease
 * statement in flight when the NOTIFY arrived may return that message a moment later.
 */
const RECENT_CANCEL_MS = 30_000;
/** At most this many such cancels are remembered; the heartbeat catches any others. */
const MAX_RECENT_CANCELS = 10_000;

/**
 * The running side of a worker: its slots. It runs the handler of each message it is given,
 * decides the outcome with `outcomeOf`, and settles it: acks coalesced into batched statements
 * (the slot frees before the ack lands), anything else one fenced statement. A message whose
 * lease was lost or given back is never settled by this worker.
 */
export class MessageExecutor {
  private readonly inFlight = new Map<string, Execution>();
  private meanMs: number | undefined;
  /** Acks sent after their handler's slot was freed; stop waits for them. */
  private readonly settling = new Set<Promise<void>>();
  private readonly acks: AckBatcher;
  private readonly failureLines: FailureLines;
  /** Ids of cancels heard that matched nothing here, with when they expire (`performance.now()`). */
  private readonly recentCancels = new Map<string, number>();
  /** Which events of this queue have listeners: checked before any payload is built. */
  private readonly hears: QueueEventInterest;
  /** This queue's metrics; undefined when they are off, and then every report is one check. */
  private readonly metrics: QueueMetricHooks | undefined;

  /*
   * `message.progress` and `message.children`: one function each per executor rather than two
   * closures per message, finding what they need through the message they are called on (its
   * lease token, its id). Two closures per message cost a plain drain about 5 % (measured).
   */
  private readonly methods: HandlerMethods;

  constructor(private readonly deps: MessageExecutorDependencies) {
    const { queue } = deps.definition;
    const remove = deps.definition.options.removeOnComplete;
    const write = (leaseToken: string, value: unknown) => this.progress(leaseToken, value);
    this.methods = {
      progress: function progress(this: LeasedMessage, value: unknown) {
        return write(this.leaseToken, value);
      },
      children: function children<R = unknown>(this: LeasedMessage) {
        return deps.store.children<R>(this.id);
      },
    };
    this.hears = deps.events?.interest(queue) ?? NO_INTEREST;
    const metrics = deps.events?.metrics?.forQueue(queue);
    this.metrics = metrics;
    this.failureLines = new FailureLines(queue, deps.logger, deps.now ?? (() => performance.now()));
    this.acks = new AckBatcher(
      metrics === undefined
        ? (leases, results) => deps.store.ackBatch(queue, leases, results, remove)
        : async (leases, results) => {
            const sent = performance.now();
            try {
              return await deps.store.ackBatch(queue, leases, results, remove);
            } finally {
              metrics.ackStatementSeconds((performance.now() - sent) / 1000);
            }
          },
      (error, leases) => {
        deps.logger.error(
          `Queue "${queue}": ack of ${leases.length} message(s) failed, retries included (${describeError(error)}); they will be retried when their leases expire`,
        );
      },
    );
  }

  private get queue(): string {
    return this.deps.definition.queue;
  }

  /** Handlers running now. */
  get running(): number {
    return this.inFlight.size;
  }

  /** Finished messages whose ack has not landed yet. */
  get unsettledAcks(): number {
    return this.settling.size;
  }

  /** How long a slot stays busy per message, on average of the recent ones. */
  get meanHandlerMs(): number | undefined {
    return this.meanMs;
  }

  /** The leases this executor still holds: running handlers' and unsettled acks'. */
  heldLeases(): QueueLease[] {
    const held: QueueLease[] = [];
    for (const execution of this.inFlight.values()) {
      if (!execution.relinquished && !execution.finished) held.push(execution.message);
    }
    return held.concat(this.acks.unsettled());
  }

  /** Starts the handler for `message`; it runs on its own, its slot counted until it settles. */
  start(message: LeasedMessage): void {
    const span = tracingLive() ? new ProcessSpan(message) : undefined;
    const execution: Execution = {
      message,
      controller: new LazyAbort(),
      finished: false,
      span,
    };
    if (this.recentCancels.size > 0 && this.recentlyCancelled(message.id)) {
      this.markCancelled(execution);
    }
    // Keyed by lease token: the same message may come back to this worker after a lost lease
    // while the first handler is still running.
    this.inFlight.set(message.leaseToken, execution);
    if (this.metrics !== undefined && message.attempts > 1) this.metrics.retried();
    const began = performance.now();
    // The handler runs with the span active, so the spans it starts are the span's children.
    const running =
      span === undefined ? this.execute(execution) : span.run(() => this.execute(execution));
    const settled = (): void => {
      execution.finished = true;
      this.meanMs = nextMeanMs(this.meanMs, performance.now() - began);
      this.inFlight.delete(message.leaseToken);
      span?.end();
      this.deps.onSlotFreed();
    };
    // One `then` with both callbacks, not catch + finally: a promise less per message.
    execution.done = running.then(settled, (error: unknown) => {
      span?.failed(error);
      this.deps.logger.error(
        `Queue "${this.queue}": message ${message.id} could not be settled (${describeError(error)}); it will be retried when its lease expires`,
      );
      settled();
    });
  }

  /** Aborts the handlers whose leases were lost; their results will not be recorded. */
  abortLost(tokens: ReadonlySet<string>): void {
    for (const execution of this.inFlight.values()) {
      if (!tokens.has(execution.message.leaseToken)) continue;
      if (execution.relinquished || execution.finished) continue;
      execution.relinquished = 'lost';
      execution.controller.abort(new LeaseLostError(execution.message.id));
    }
  }

  /**
   * Aborts the running handlers of the messages `match` selects with a `MessageCancelledError`:
   * their cancel was requested. Each settles `cancelled` at once, without waiting for a handler
   * that ignores its signal. A handler that already returned keeps its outcome.
   * @returns whether any matched.
   */
  cancel(match: (message: LeasedMessage) => boolean): boolean {
    let found = false;
    for (const execution of this.inFlight.values()) {
      if (!match(execution.message)) continue;
      found = true;
      if (execution.relinquished || execution.finished || execution.cancelled) continue;
      this.markCancelled(execution);
    }
    return found;
  }

  /**
   * A cancel of message `id` was heard and nothing of this worker holds it: if a lease statement
   * in flight returns it, it is cancelled instead of started.
   */
  rememberCancel(id: string): void {
    const now = performance.now();
    for (const [known, expires] of this.recentCancels) {
      if (expires > now && this.recentCancels.size < MAX_RECENT_CANCELS) break;
      this.recentCancels.delete(known);
    }
    this.recentCancels.set(id, now + RECENT_CANCEL_MS);
  }

  /** Settles a message leased ahead and never started `cancelled`; stop waits for it. */
  cancelUnstarted(message: LeasedMessage): void {
    const settled = this.settleCancelled(message, 'before it started').catch((error: unknown) => {
      this.deps.logger.error(
        `Queue "${this.queue}": message ${message.id} could not be settled as cancelled (${describeError(error)}); the reaper cancels it when its lease expires`,
      );
    });
    this.settling.add(settled);
    void settled.finally(() => this.settling.delete(settled));
  }

  private recentlyCancelled(id: string): boolean {
    const expires = this.recentCancels.get(id);
    if (expires === undefined) return false;
    this.recentCancels.delete(id);
    return expires > performance.now();
  }

  private markCancelled(execution: Execution): void {
    execution.cancelled = true;
    const cancel = new MessageCancelledError(execution.message.id);
    execution.controller.abort(cancel);
    execution.stopWaiting?.({ ok: false, error: cancel });
  }

  /**
   * Waits for running handlers until `deadline` (epoch ms), then aborts the stragglers' signals
   * and returns their messages to `ready` without waiting for the lease to expire; finally waits
   * for every ack in flight.
   */
  async stop(deadline: number): Promise<void> {
    const running = [...this.inFlight.values()];
    if (running.length > 0) {
      await withDeadline(
        Promise.allSettled(running.map((execution) => execution.done ?? Promise.resolve())),
        deadline - Date.now(),
        () => undefined,
      );
    }
    // A handler that returned is settling its outcome (a retry, a dead letter): giving its
    // message back now would race that statement and could lose the failure it records.
    const left = [...this.inFlight.values()];
    await Promise.all(
      left.filter((execution) => !execution.finished).map((execution) => this.abandon(execution)),
    );
    await this.acks.drain();
    await Promise.allSettled([
      ...this.settling,
      ...left.filter((execution) => execution.finished).map((execution) => execution.done),
    ]);
    this.failureLines.close();
  }

  private async execute(execution: Execution): Promise<void> {
    const { message, controller } = execution;
    const { options, handler } = this.deps.definition;

    if (execution.cancelled) {
      await this.settleCancelled(message, 'before it started');
      return;
    }

    if (isOverrun(message.attempts, options.maxAttempts)) {
      await this.deadLetter(
        message,
        new AttemptsExhaustedError(message.attempts, options.maxAttempts),
      );
      return;
    }

    let body = message.body;
    if (options.body !== undefined) {
      const check = await validateBody(options.body, body);
      if (!check.ok) {
        await this.deadLetter(message, new BodyValidationError(check.failures));
        return;
      }
      body = check.body;
    }
    if (execution.cancelled) {
      await this.settleCancelled(message, 'before it started');
      return;
    }

    const given = new HandlerMessage(message, body, controller, this.methods);
    let result: HandlerResult;
    if (options.transaction) {
      const ran = await runInTransaction(
        {
          message: given,
          handler,
          wait: (running) =>
            this.metrics === undefined
              ? withinTimeout(running, options.timeoutMs, execution)
              : this.timed(withinTimeout(running, options.timeoutMs, execution)),
          mayCommit: () => !execution.relinquished && !execution.cancelled,
          opened: (transaction) => (execution.transaction = transaction),
          removeOnComplete: options.removeOnComplete,
          resultJson: (value) => this.resultJson(value),
        },
        this.deps.store,
        this.deps.logger,
      );
      execution.finished = true;
      // Committed with its ack, or its lease found lost and its transaction rolled back.
      if ('settled' in ran) {
        execution.span?.settled(ran.settled === 'committed' ? 'ack' : 'lease_lost');
        if (ran.settled === 'committed') this.completed(message, ran.value);
        return;
      }
      result = ran;
    } else {
      const called = this.metrics === undefined ? 0 : performance.now();
      result = await withinTimeout(
        // Through a promise, so a handler that throws before it awaits anything is caught too.
        Promise.resolve().then(() => handler(given)),
        options.timeoutMs,
        execution,
      );
      execution.finished = true;
      if (this.metrics !== undefined) {
        this.metrics.handlerSeconds((performance.now() - called) / 1000);
      }
    }
    if (execution.relinquished !== undefined) {
      execution.span?.settled(execution.relinquished === 'lost' ? 'lease_lost' : 'shutdown');
    }
    if (execution.relinquished === 'shutdown') {
      // Intended: the deadline passed, the message went back to ready and runs again later.
      this.deps.logger.log(
        `Queue "${this.queue}": message ${message.id} finished after shutdown had returned it to the queue; it will run again, this result is not recorded`,
      );
      return;
    }
    if (execution.relinquished === 'lost') {
      this.deps.logger.warn(
        `Queue "${this.queue}": message ${message.id} finished after its lease was lost; its result is not recorded`,
      );
      return;
    }
    if (execution.cancelled) {
      await this.settleCancelled(message, 'while it ran');
      return;
    }
    if (!result.ok && result.error instanceof MessageCancelledError) {
      await this.settleCancelled(message, 'by its handler');
      return;
    }
    const outcome = outcomeOf(result, message.attempts, options);
    switch (outcome.kind) {
      case 'ack': {
        // `result.ok` always holds here; the check narrows the type.
        const value = result.ok ? result.value : undefined;
        const json = value === undefined ? undefined : this.resultJson(value);
        if (typeof json === 'object') {
          await this.deadLetter(message, json);
          return;
        }
        execution.span?.settled('ack');
        this.ack(message, json, value);
        return;
      }
      case 'snooze':
        // Not a failure: the handler asked for later, and no attempt is spent. No line.
        execution.span?.settled('snooze', { delaySeconds: outcome.delaySeconds });
        await this.deps.store.snooze(message, outcome.delaySeconds);
        return;
      case 'retry': {
        execution.span?.settled('retry', {
          error: outcome.error,
          delaySeconds: outcome.delaySeconds,
        });
        const retried = await this.settleFailure(
          message,
          outcome.error,
          `retry in ${outcome.delaySeconds} s`,
          () =>
            this.deps.store.retry(
              message,
              outcome.delaySeconds,
              errorRecordJson(outcome.error, message.attempts),
            ),
        );
        if (retried && this.metrics !== undefined) this.metrics.failed();
        if (retried && this.hears.failed) {
          this.deps.events!.emit('failed', {
            id: message.id,
            queue: message.queue,
            message,
            error: outcome.error,
            attempt: message.attempts,
            maxAttempts: options.maxAttempts,
            delaySeconds: outcome.delaySeconds,
          });
        }
        return;
      }
      case 'deadLetter':
        await this.deadLetter(message, outcome.error);
        return;
    }
  }

  /**
   * A handler's return value as JSON, or why it cannot be stored. Not retried: the same code
   * would return the same value again.
   */
  private resultJson(value: unknown): string | ResultValidationError {
    try {
      return serializeBody(value, 'result', this.deps.maxResultBytes ?? DEFAULT_MAX_BODY_BYTES);
    } catch (error) {
      return error instanceof QueueValidationError
        ? new ResultValidationError(error.field, error.rule)
        : new ResultValidationError('result', `could not be serialised (${describeError(error)})`);
    }
  }

  /**
   * `message.progress(value)` of the message leased under `leaseToken`: one fenced UPDATE at a
   * time per message, the last value wins; false once the message is no longer running here.
   */
  private async progress(leaseToken: string, value: unknown): Promise<boolean> {
    const json = serializeBody(value, 'progress', MAX_PROGRESS_BYTES);
    const execution = this.inFlight.get(leaseToken);
    if (execution === undefined || execution.finished) return false;
    if (execution.relinquished !== undefined || execution.cancelled === true) return false;
    const { message } = execution;
    execution.progress ??= new ProgressWriter(
      (text) => this.deps.store.recordProgress(message, text),
      (recorded) => {
        if (this.hears.progress) this.deps.events!.progress(message, recorded);
      },
      (error) =>
        this.failureLines.write(
          `Queue "${this.queue}": progress of message ${message.id} not recorded (${describeError(error)})`,
        ),
    );
    return execution.progress.write(json, value);
  }

  /** The slot frees now; the ack joins the batch of this turn, tracked for stop. */
  private ack(message: LeasedMessage, resultJson: string | undefined, result: unknown): void {
    // One promise per ack (no `finally` after the `then`): this runs for every message.
    const acked: Promise<void> = this.acks.ack(message, resultJson).then((outcome) => {
      try {
        if (outcome === 'acked') {
          this.completed(message, result);
        } else if (outcome === 'refused') {
          this.deps.logger.warn(
            `Queue "${this.queue}": ack of message ${message.id} refused: its lease was lost meanwhile`,
          );
        }
      } finally {
        this.settling.delete(acked);
        // The fetch loop may be holding back for lagging acks (MAX_UNSETTLED_ACKS).
        this.deps.onSlotFreed();
      }
    });
    this.settling.add(acked);
  }

  /** The `completed` event, once the ack landed, with what the handler returned. */
  private completed(message: LeasedMessage, result: unknown): void {
    if (this.metrics !== undefined) this.metrics.processed();
    if (!this.hears.completed) return;
    this.deps.events!.emit('completed', {
      id: message.id,
      queue: message.queue,
      message,
      ...(result === undefined ? {} : { result }),
    });
  }

  /** Not a failure: one log line, no `lastError`, never retried. */
  private async settleCancelled(message: LeasedMessage, when: string): Promise<void> {
    this.inFlight.get(message.leaseToken)?.span?.settled('cancelled');
    const settled = await this.deps.store.cancelLease(message);
    if (settled && this.metrics !== undefined) {
      this.metrics.cancelled(when === 'before it started' ? 'beforeStart' : 'running');
    }
    if (settled && this.hears.cancelled) {
      this.deps.events!.emit('cancelled', {
        id: message.id,
        queue: message.queue,
        message,
        when: when === 'before it started' ? 'beforeStart' : 'running',
      });
    }
    this.deps.logger.log(
      settled
        ? `Queue "${this.queue}": message ${message.id} cancelled ${when}`
        : `Queue "${this.queue}": message ${message.id} cancelled ${when}, but its lease was lost meanwhile; not recorded`,
    );
  }

  private async deadLetter(message: LeasedMessage, error: unknown): Promise<void> {
    const { deadLetterQueue } = this.deps.definition.options;
    this.inFlight
      .get(message.leaseToken)
      ?.span?.settled('dead_letter', { error, ...(deadLetterQueue && { deadLetterQueue }) });
    const settled = await this.settleFailure(
      message,
      error,
      deadLetterQueue === undefined
        ? `failed for good (state failed: see listFailed, retryFailed)`
        : `dead-lettered to "${deadLetterQueue}"`,
      () =>
        this.deps.store.deadLetter(
          message,
          errorRecordJson(error, message.attempts),
          deadLetterQueue,
        ),
    );
    if (settled && this.metrics !== undefined) this.metrics.deadLettered('worker');
    if (settled && this.hears['dead-lettered']) {
      this.deps.events!.emit('dead-lettered', {
        id: message.id,
        queue: message.queue,
        deadLetterQueue: deadLetterQueue ?? null,
        by: 'worker',
        message,
        error,
        attempt: message.attempts,
      });
    }
  }

  /**
   * Records a failed attempt with `settle`, then writes its line: the attempt, the error, and
   * `next`, what became of the message, unless the statement did not settle it after all.
   * @returns whether the statement recorded it as `next` says (not `cancelled` instead, nor lost).
   */
  private async settleFailure(
    message: LeasedMessage,
    error: unknown,
    next: string,
    settle: () => Promise<FailureSettlement>,
  ): Promise<boolean> {
    let settled: FailureSettlement | undefined;
    try {
      settled = await settle();
    } finally {
      const what =
        settled === undefined
          ? 'not recorded: the statement failed (logged next)'
          : settled === 'recorded'
            ? next
            : settled === 'cancelled'
              ? 'cancelled meanwhile: settled cancelled, not retried'
              : 'not recorded: its lease was lost meanwhile';
      this.failureLines.write(
        `Queue "${this.queue}": message ${message.id} attempt ${message.attempts} of ${this.deps.definition.options.maxAttempts} failed (${describeFailure(error)}); ${what}`,
      );
    }
    // A cancel requested after the handler failed, before this worker heard of it, wins: the
    // statement made the message `cancelled`, and that is the event its listeners hear.
    if (settled === 'cancelled' && this.metrics !== undefined) this.metrics.cancelled('running');
    if (settled === 'cancelled' && this.hears.cancelled) {
      this.deps.events!.emit('cancelled', {
        id: message.id,
        queue: message.queue,
        message,
        when: 'running',
      });
    }
    return settled === 'recorded';
  }

  /** A transactional handler's wait, its duration reported to the metrics. */
  private async timed(waiting: Promise<HandlerResult>): Promise<HandlerResult> {
    const called = performance.now();
    try {
      return await waiting;
    } finally {
      this.metrics?.handlerSeconds((performance.now() - called) / 1000);
    }
  }

  private async abandon(execution: Execution): Promise<void> {
    if (execution.relinquished) return;
    execution.relinquished = 'shutdown';
    execution.controller.abort(new ShutdownError(execution.message.id));
    // Its work must not commit once the message is given back.
    execution.transaction?.discard();
    try {
      const released = await this.deps.store.release(execution.message);
      // Still a warning: work will be repeated; a longer shutdownTimeoutMs would have let it end.
      this.deps.logger.warn(
        released
          ? `Queue "${this.queue}": message ${execution.message.id} was still running at the shutdown deadline (shutdownTimeoutMs); returned to ready, it will run again`
          : `Queue "${this.queue}": message ${execution.message.id} was still running at the shutdown deadline, and its lease was already lost`,
      );
    } catch (error) {
      this.deps.logger.error(
        `Queue "${this.queue}": could not return message ${execution.message.id} at shutdown (${describeError(error)}); it will be retried when its lease expires`,
      );
    }
  }
}

/** How a handler that resolved ended: one object for all, since it carries nothing. */
const HANDLER_OK: HandlerResult = Object.freeze({ ok: true });

/**
 * How the handler ended, or a `HandlerTimeoutError` (its signal aborted with it) once `timeoutMs` passed, or the
 * `MessageCancelledError` of a cancel requested meanwhile (`execution.stopWaiting`). A handler
 * that outlives its timeout or its cancel runs on, but its outcome is no longer waited for nor
 * recorded. The cancel ends the wait through the execution, not through a listener on the
 * handler's signal: adding one cost about 5 µs per message, a tenth of a core at 20,000 a second.
 */
function withinTimeout(
  running: Promise<unknown>,
  timeoutMs: number | undefined,
  execution: Execution,
): Promise<HandlerResult> {
  const settled = new Promise<HandlerResult>((resolve) => {
    execution.stopWaiting = resolve;
    running.then(
      (value: unknown) => resolve(value === undefined ? HANDLER_OK : { ok: true, value }),
      (error: unknown) => resolve({ ok: false, error }),
    );
  });
  if (timeoutMs === undefined) return settled;
  return withDeadline(settled, timeoutMs, (): HandlerResult => {
    const error = new HandlerTimeoutError(execution.message.id, timeoutMs);
    execution.controller.abort(error);
    return { ok: false, error };
  });
}
