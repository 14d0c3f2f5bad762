import {
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { spanContextOf, traceContextOf } from './trace-context.js';

/**
 * `messaging.system`. The messaging conventions list brokers (kafka, rabbitmq, …) and allow a
 * system of one's own; `postgresql` names a database (`db.system.name`), and tools that read
 * it as a broker or as database spans would mislead. Workers of the Python backend reading the
 * same table are the same system.
 */
export const MESSAGING_SYSTEM = 'fetchcraft_queue';

/** The instrumentation scope's name: the package's. */
const SCOPE = '@fetchcraft/queue';

/** The attributes of the package's spans: OTel's messaging conventions, then its own. */
export const TRACE_ATTRIBUTES = {
  system: 'messaging.system',
  operationName: 'messaging.operation.name',
  operationType: 'messaging.operation.type',
  destination: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  batchCount: 'messaging.batch.message_count',
  errorType: 'error.type',
  /** The attempt a process span runs (1 for the first). */
  attempt: 'fetchcraft_queue.message.attempt',
  /** What became of the message: see `ProcessOutcome`. */
  outcome: 'fetchcraft_queue.outcome',
  /** A retry's backoff or a snooze's delay. */
  delaySeconds: 'fetchcraft_queue.delay_seconds',
  deadLetterQueue: 'fetchcraft_queue.dead_letter_queue',
  /** A schedule's send: the schedule's name. */
  schedule: 'fetchcraft_queue.schedule.name',
} as const;

/**
 * The delegate of a provider nothing was registered with: the API's no-op, one shared
 * instance. `trace.setGlobalTracerProvider` puts the application's provider behind the global
 * proxy, so the proxy's delegate tells whether anything records.
 */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * Whether the application registered a tracer provider. Without one (the common case) the
 * package starts no span, stores no trace context and serialises nothing: the hot path pays
 * this call (a property read and a comparison) per message and per enqueue. Asked each time
 * rather than once at boot, so a provider registered after the module starts still counts.
 */
export function tracingLive(): boolean {
  const provider = trace.getTracerProvider();
  // A provider of another copy of the API is not our proxy: assume it records.
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

function messagingAttributes(operation: string, queue: string): Attributes {
  return {
    [TRACE_ATTRIBUTES.system]: MESSAGING_SYSTEM,
    [TRACE_ATTRIBUTES.operationName]: operation,
    [TRACE_ATTRIBUTES.operationType]: operation,
    [TRACE_ATTRIBUTES.destination]: queue,
  };
}

/** Error status, an `exception` event and `error.type`, as the conventions record a failure. */
function recordFailure(span: Span, error: unknown): void {
  span.setAttribute(
    TRACE_ATTRIBUTES.errorType,
    error instanceof Error ? error.constructor.name : '_OTHER',
  );
  if (error instanceof Error) {
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  } else {
    span.recordException(String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
  }
}

/**
 * A PRODUCER `send <queue>` span around writing messages, child of the caller's active span.
 * Its context is what the messages carry (`traceContext`), so each one's process span
 * continues the trace.
 */
export class SendSpan {
  private readonly span: Span;
  /** The stored form of the span's context; undefined when it is not valid (not sampled in). */
  readonly traceContext: string | undefined;

  /** Call only when `tracingLive()`. `count` above 1 is a batch. */
  constructor(queue: string, count: number, attributes: Attributes = {}) {
    const all = messagingAttributes('send', queue);
    if (count > 1) all[TRACE_ATTRIBUTES.batchCount] = count;
    this.span = trace.getTracer(SCOPE).startSpan(`send ${queue}`, {
      kind: SpanKind.PRODUCER,
      attributes: { ...all, ...attributes },
    });
    this.traceContext = traceContextOf(this.span.spanContext());
  }

  /** The caller's context with this span active: statements sent under it are its children. */
  context(): Context {
    return trace.setSpan(context.active(), this.span);
  }

  /** The ids written; one message's id becomes `messaging.message.id`. */
  sent(ids: readonly string[]): void {
    if (ids.length === 1) this.span.setAttribute(TRACE_ATTRIBUTES.messageId, ids[0]!);
  }

  failed(error: unknown): void {
    recordFailure(this.span, error);
  }

  end(): void {
    this.span.end();
  }
}

/**
 * Runs `send` in a `SendSpan` when tracing is live, giving it the trace context to store; else
 * runs it with none, at the cost of one check.
 */
export async function tracedSend<R>(
  queue: string,
  count: number,
  send: (traceContext: string | undefined) => Promise<R>,
  idsOf: (result: R) => readonly string[],
): Promise<R> {
  if (!tracingLive()) return send(undefined);
  const span = new SendSpan(queue, count);
  try {
    const result = await context.with(span.context(), () => send(span.traceContext));
    span.sent(idsOf(result));
    return result;
  } catch (error) {
    span.failed(error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * What became of a message its process span ran: acked (`ack`), due again (`retry`, `snooze`),
 * a dead letter (`dead_letter`), `cancelled`, or not this worker's to settle any more
 * (`lease_lost`, `shutdown`: it runs again elsewhere or later).
 */
export type ProcessOutcome =
  'ack' | 'retry' | 'snooze' | 'dead_letter' | 'cancelled' | 'lease_lost' | 'shutdown';

/** The leased message a process span is about. */
export interface ProcessedMessage {
  readonly id: string;
  readonly queue: string;
  readonly attempts: number;
  readonly traceContext?: string | null;
}

/**
 * A CONSUMER `process <queue>` span around one run of a handler. Its parent is the context the
 * message was sent under, read back from the message: one trace from the producer's request to
 * the handler's work, whichever process runs it. The worker's own context is never the
 * parent: a fetch loop started during some request has nothing to do with the message.
 */
export class ProcessSpan {
  private readonly span: Span;
  private readonly active: Context;
  private outcome: ProcessOutcome | undefined;

  /** Call only when `tracingLive()`. */
  constructor(message: ProcessedMessage) {
    const sent =
      message.traceContext === null || message.traceContext === undefined
        ? undefined
        : spanContextOf(message.traceContext);
    const parent = sent === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, sent);
    this.span = trace.getTracer(SCOPE).startSpan(
      `process ${message.queue}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          ...messagingAttributes('process', message.queue),
          [TRACE_ATTRIBUTES.messageId]: message.id,
          [TRACE_ATTRIBUTES.attempt]: message.attempts,
        },
      },
      parent,
    );
    this.active = trace.setSpan(parent, this.span);
  }

  /** Runs `work` with this span active, so the handler's own spans are its children. */
  run<R>(work: () => R): R {
    return context.with(this.active, work);
  }

  /**
   * Records the outcome; a failed attempt (`retry`, `dead_letter`) also records its error.
   * The first call wins: a dead letter settled after a failed check is not overwritten.
   */
  settled(
    outcome: ProcessOutcome,
    detail: {
      readonly error?: unknown;
      readonly delaySeconds?: number;
      readonly deadLetterQueue?: string;
    } = {},
  ): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    this.span.setAttribute(TRACE_ATTRIBUTES.outcome, outcome);
    if (outcome === 'retry' || outcome === 'dead_letter') recordFailure(this.span, detail.error);
    if (detail.delaySeconds !== undefined) {
      this.span.setAttribute(TRACE_ATTRIBUTES.delaySeconds, detail.delaySeconds);
    }
    if (detail.deadLetterQueue !== undefined) {
      this.span.setAttribute(TRACE_ATTRIBUTES.deadLetterQueue, detail.deadLetterQueue);
    }
  }

  /** A settle statement failed after the outcome was chosen. */
  failed(error: unknown): void {
    recordFailure(this.span, error);
  }

  end(): void {
    this.span.end();
  }
}
