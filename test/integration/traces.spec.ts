import { afterAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace, type SpanContext } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';
import { Processor, UnrecoverableError, type ProcessorMessage } from '../../src/index.js';
import { Checkout, OrderConfirmations } from '../../examples/tracing.js';
import { waitFor } from '../support/boot.js';
import { useQueueFixture } from '../support/queue-fixture.js';

/** What each handler saw as the active span, by message id. */
const activeIn = new Map<string, SpanContext | undefined>();

@Injectable()
class Handlers {
  @Processor('traces.ok', { concurrency: 4 })
  ok(message: ProcessorMessage): void {
    activeIn.set(message.id, trace.getActiveSpan()?.spanContext());
    // A span the handler starts is a child of its process span.
    trace.getTracer('handler').startSpan('handler work').end();
  }

  @Processor('traces.retry', { maxAttempts: 3, backoff: { type: 'fixed', delaySeconds: 60 } })
  retry(): void {
    throw new Error('boom');
  }

  @Processor('traces.dead', { deadLetterQueue: 'traces.dlq' })
  dead(): void {
    throw new UnrecoverableError('no use trying again');
  }
}

const fixture = useQueueFixture('traces', {
  shared: { pollIntervalMs: 50 },
  sharedProviders: [Handlers, Checkout, OrderConfirmations],
});
const { db } = fixture;

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const contextManager = new AsyncLocalStorageContextManager();

afterAll(async () => {
  trace.disable();
  context.disable();
  await provider.shutdown();
});

const finished = (): ReadableSpan[] => exporter.getFinishedSpans();
const spansOf = (name: string, id?: string) =>
  finished().filter(
    (span) =>
      span.name === name && (id === undefined || span.attributes['messaging.message.id'] === id),
  );
const oneSpan = async (name: string, id?: string): Promise<ReadableSpan> => {
  await waitFor(() => spansOf(name, id).length > 0, 10_000, `span "${name}" ${id ?? ''}`);
  return spansOf(name, id)[0]!;
};
const storedContext = async (id: string) =>
  (
    await db.query<{ trace_context: string | null }>(
      'SELECT trace_context FROM messages WHERE id = $1',
      [id],
    )
  ).rows[0]?.trace_context;
const traceparentOf = (span: SpanContext) => `00-${span.traceId}-${span.spanId}-01`;

describe('OpenTelemetry traces', () => {
  it('without a tracer provider stores no trace context and still runs every message', async () => {
    const one = await fixture.queue.enqueue('traces.ok', { n: 1 });
    const many = await fixture.queue.enqueueMany('traces.ok', [{ n: 2 }, { n: 3 }]);
    await waitFor(() => [one, ...many].every((id) => activeIn.has(id)), 10_000, 'the handlers');
    const { rows } = await db.query<{ trace_context: string | null }>(
      'SELECT trace_context FROM messages WHERE id = ANY ($1::text[])',
      [[one, ...many]],
    );
    expect(rows.map((row) => row.trace_context)).toEqual([null, null, null]);
    expect([one, ...many].map((id) => activeIn.get(id))).toEqual([undefined, undefined, undefined]);
    expect(finished()).toEqual([]);
  });

  it('a message sent in an active span carries its context; the handler runs in a process span of the same trace', async () => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);

    const tracer = trace.getTracer('test');
    let request: SpanContext | undefined;
    const id = await tracer.startActiveSpan('request', async (span) => {
      request = span.spanContext();
      try {
        return await fixture.queue.enqueue('traces.ok', { n: 4 });
      } finally {
        span.end();
      }
    });

    const send = await oneSpan('send traces.ok', id);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.spanContext().traceId).toBe(request!.traceId);
    expect(send.parentSpanContext?.spanId).toBe(request!.spanId);
    expect(send.attributes).toEqual({
      'messaging.system': 'fetchcraft_queue',
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'traces.ok',
      'messaging.message.id': id,
    });
    expect(JSON.parse((await storedContext(id))!)).toEqual({
      traceparent: traceparentOf(send.spanContext()),
    });

    const process = await oneSpan('process traces.ok', id);
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.spanContext().traceId).toBe(request!.traceId);
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(process.attributes).toEqual({
      'messaging.system': 'fetchcraft_queue',
      'messaging.operation.name': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'traces.ok',
      'messaging.message.id': id,
      'fetchcraft_queue.message.attempt': 1,
      'fetchcraft_queue.outcome': 'ack',
    });
    expect(process.status.code).toBe(SpanStatusCode.UNSET);
    // The handler ran with the process span active, and its own span is that span's child.
    expect(activeIn.get(id)?.spanId).toBe(process.spanContext().spanId);
    const work = spansOf('handler work').find(
      (span) => span.parentSpanContext?.spanId === process.spanContext().spanId,
    );
    expect(work?.spanContext().traceId).toBe(request!.traceId);
  });

  it("the README's example: one trace from the order to the confirmation email", async () => {
    const id = await fixture.app.get(Checkout).placeOrder('o-1');
    const email = await oneSpan('send confirmation email');
    const process = await oneSpan('process orders.confirm', id);
    const send = await oneSpan('send orders.confirm', id);
    const order = spansOf('place order')[0]!;
    expect(email.parentSpanContext?.spanId).toBe(process.spanContext().spanId);
    expect(process.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
    expect(send.parentSpanContext?.spanId).toBe(order.spanContext().spanId);
    expect(
      new Set([email, process, send, order].map((span) => span.spanContext().traceId)).size,
    ).toBe(1);
  });

  it("a failing handler's span has status ERROR, the exception, and what became of the message", async () => {
    const retried = await fixture.queue.enqueue('traces.retry', {});
    const dead = await fixture.queue.enqueue('traces.dead', {});

    const retry = await oneSpan('process traces.retry', retried);
    expect(retry.status).toEqual({ code: SpanStatusCode.ERROR, message: 'boom' });
    expect(retry.events.map((event) => event.name)).toEqual(['exception']);
    expect(retry.events[0]!.attributes?.['exception.message']).toBe('boom');
    expect(retry.attributes).toMatchObject({
      'error.type': 'Error',
      'fetchcraft_queue.outcome': 'retry',
      'fetchcraft_queue.delay_seconds': 60,
    });

    const deadLetter = await oneSpan('process traces.dead', dead);
    expect(deadLetter.status.code).toBe(SpanStatusCode.ERROR);
    expect(deadLetter.attributes).toMatchObject({
      'error.type': 'UnrecoverableError',
      'fetchcraft_queue.outcome': 'dead_letter',
      'fetchcraft_queue.dead_letter_queue': 'traces.dlq',
    });
    // Sent outside any span: each send is the root of its own trace, the process its child.
    const send = await oneSpan('send traces.dead', dead);
    expect(send.parentSpanContext).toBeUndefined();
    expect(deadLetter.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
  });

  it('a batch, a flow and a schedule tick are one send span each, continued by every message', async () => {
    const ids = await fixture.queue.enqueueMany('traces.ok', [{ n: 5 }, { n: 6 }, { n: 7 }]);
    const batch = spansOf('send traces.ok').find(
      (span) => span.attributes['messaging.batch.message_count'] === 3,
    );
    expect(batch?.attributes['messaging.message.id']).toBeUndefined();
    const stored = await Promise.all(ids.map(storedContext));
    expect(new Set(stored)).toEqual(
      new Set([JSON.stringify({ traceparent: traceparentOf(batch!.spanContext()) })]),
    );
    for (const id of ids) {
      const process = await oneSpan('process traces.ok', id);
      expect(process.parentSpanContext?.spanId).toBe(batch!.spanContext().spanId);
    }

    const tree = await fixture.queue.enqueueFlow({
      queue: 'traces.ok',
      body: { parent: true },
      children: [{ queue: 'traces.ok', body: { child: true } }],
    });
    const flowSend = spansOf('send traces.ok').find(
      (span) => span.attributes['messaging.batch.message_count'] === 2,
    );
    expect(flowSend).toBeDefined();
    const parent = await oneSpan('process traces.ok', tree.id);
    const child = await oneSpan('process traces.ok', tree.children[0]!.id);
    expect(parent.parentSpanContext?.spanId).toBe(flowSend!.spanContext().spanId);
    expect(child.parentSpanContext?.spanId).toBe(flowSend!.spanContext().spanId);

    await fixture.queue.schedule('traces.tick', { queue: 'traces.ok', cron: '* * * * * *' });
    try {
      await waitFor(
        () =>
          spansOf('send traces.ok').some(
            (span) => span.attributes['fetchcraft_queue.schedule.name'] === 'traces.tick',
          ),
        10_000,
        'a tick',
      );
    } finally {
      await fixture.queue.unschedule('traces.tick');
    }
    const tick = spansOf('send traces.ok').find(
      (span) => span.attributes['fetchcraft_queue.schedule.name'] === 'traces.tick',
    )!;
    const tickId = tick.attributes['messaging.message.id'] as string;
    const ran = await oneSpan('process traces.ok', tickId);
    expect(ran.parentSpanContext?.spanId).toBe(tick.spanContext().spanId);
  });
});
