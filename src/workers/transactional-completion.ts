import { type LoggerService } from '@nestjs/common';
import { type HandlerTransaction } from '../database/handler-transaction.js';
import { type ResultValidationError } from '../errors/result-validation.error.js';
import { type TransactionalMessage } from '../interfaces/processor-message.interface.js';
import { type HandlerMessage } from './handler-message.js';
import { type MessageStore } from '../store/message-store.js';
import { type HandlerResult } from './outcome.js';

/**
 * The run settled the message itself: `committed` the handler's work with the ack (and its
 * `value`, stored as the result), or found the lease `lost` and kept nothing.
 */
export interface TransactionalOutcome {
  readonly settled: 'committed' | 'lost';
  readonly value?: unknown;
}

/** What the executor knows of the running message, asked after the handler returned. */
export interface TransactionalRun {
  /** The message as the handler receives it, but for its `manager`. */
  readonly message: HandlerMessage;
  readonly handler: (message: TransactionalMessage) => unknown;
  /** A returned value as the JSON of the result, or why it cannot be stored. */
  readonly resultJson: (value: unknown) => string | ResultValidationError;
  /** Waits for the handler as the executor does: its timeout, a cancel ending the wait early. */
  readonly wait: (running: Promise<unknown>) => Promise<HandlerResult>;
  /** Whether the message may still be acked: its lease was neither lost, given back nor cancelled. */
  readonly mayCommit: () => boolean;
  /** Called with the transaction once begun, so shutdown can discard it (see `abandon`). */
  readonly opened: (transaction: HandlerTransaction) => void;
  /** The processor's `removeOnComplete`: the ack deletes a message nothing looks for. */
  readonly removeOnComplete: boolean;
}

/**
 * Runs a `transaction: true` handler: begins a transaction on a connection of the module's
 * DataSource, gives it to the handler as `message.manager`, and when the handler resolves sends
 * the fenced ack in it and commits, so the handler's writes and the message's `done` commit
 * together or not at all.
 *
 * @returns a `TransactionalOutcome` when the ack committed, or matched no row (the lease was
 *   lost: rolled back, logged); otherwise the result for the executor to settle outside the
 *   transaction, which was rolled back: the handler threw, timed out, returned a value that
 *   cannot be stored, or its message was cancelled or relinquished. A
 *   transaction that cannot begin, or whose ack or commit fails (a deferred constraint, a
 *   serialization failure), is a failed attempt like a throw of the handler.
 */
export async function runInTransaction(
  run: TransactionalRun,
  store: MessageStore,
  logger: LoggerService,
): Promise<HandlerResult | TransactionalOutcome> {
  const { message } = run;
  let transaction: HandlerTransaction;
  try {
    transaction = await store.beginHandlerTransaction();
  } catch (error) {
    return { ok: false, error };
  }
  run.opened(transaction);
  let returned = false;
  const running = Promise.resolve().then(() =>
    run.handler(message.withManager(transaction.manager)),
  );
  const result = await run.wait(
    running.finally(() => {
      returned = true;
    }),
  );
  if (!result.ok || !run.mayCommit()) {
    // A handler still running (past its timeout, cancelled) may have a statement in flight that
    // a ROLLBACK would wait for: its connection is closed instead.
    if (returned) await transaction.rollback();
    else transaction.discard();
    return result;
  }
  const json = result.value === undefined ? undefined : run.resultJson(result.value);
  if (json !== undefined && typeof json !== 'string') {
    await transaction.rollback();
    return { ok: false, error: json };
  }
  let acked: boolean;
  try {
    acked = await store.ackIn(transaction, message, json, run.removeOnComplete);
    if (acked) await transaction.commit();
  } catch (error) {
    transaction.discard();
    return { ok: false, error };
  }
  if (!acked) {
    await transaction.rollback();
    logger.warn(
      `Queue "${message.queue}": message ${message.id} finished, but its lease was lost meanwhile (reaped, maybe taken by another worker); its transaction was rolled back, nothing of it is kept`,
    );
  }
  return acked ? { settled: 'committed', value: result.value } : { settled: 'lost' };
}
