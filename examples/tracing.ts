import { Injectable } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { Processor, QueueService, type ProcessorMessage } from '@fetchcraft/queue';

// Spans are recorded once the application registers a tracer provider (the OpenTelemetry SDK,
// started before `NestFactory.create`); until then every call below is a no-op.
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
