import { Injectable } from '@nestjs/common';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BatchSpanProcessor, ConsoleSpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { Processor, QueueService, type ProcessorMessage } from '@fetchcraft/queue';

/**
 * Call first in main.ts, before `NestFactory.create`. (`NodeSDK` of `@opentelemetry/sdk-node`
 * does the same and more; any registered tracer provider will do.)
 */
export function startTracing(): TracerProvider {
  const provider = new TracerProvider({
    spanProcessors: [new BatchSpanProcessor({ exporter: new ConsoleSpanExporter() })],
  });
  // Spans follow async calls, so the queue sees the span of the request it was called in.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return provider;
}

const tracer = trace.getTracer('shop');

@Injectable()
export class Checkout {
  constructor(private readonly queue: QueueService) {}

  placeOrder(orderId: string): Promise<string> {
    return tracer.startActiveSpan('place order', async (span) => {
      try {
        // A `send orders.confirm` span, child of `place order`; the message stores its context.
        return await this.queue.enqueue('orders.confirm', { orderId });
      } finally {
        span.end();
      }
    });
  }
}

@Injectable()
export class OrderConfirmations {
  // Runs in a `process orders.confirm` span of the same trace as `place order`, on whichever
  // replica leases the message.
  @Processor('orders.confirm')
  async confirm(message: ProcessorMessage<{ orderId: string }>): Promise<void> {
    await tracer.startActiveSpan('send confirmation email', async (span) => {
      try {
        await sendEmail(message.body.orderId); // a child of the process span
      } finally {
        span.end();
      }
    });
  }
}

async function sendEmail(orderId: string): Promise<void> {
  await Promise.resolve(orderId);
}
