import { Inject, Injectable } from '@nestjs/common';
import {
  InjectQueue,
  Processor,
  QueueService,
  type ProcessorMessage,
  type QueueProducerFor,
} from '@fetchcraft/queue';

export interface InvoiceRequest {
  readonly orderId: string;
  readonly totalCents: number;
}

declare module '@fetchcraft/queue' {
  interface QueueTypes {
    'billing.invoice': { body: InvoiceRequest; result: { invoiceId: string } };
  }
}

@Injectable()
export class Billing {
  constructor(
    @Inject(QueueService) private readonly queue: QueueService,
    @InjectQueue('billing.invoice') private readonly invoices: QueueProducerFor<'billing.invoice'>,
  ) {}

  async bill(orderId: string, totalCents: number): Promise<string> {
    // `{ orderId }` alone would not compile: the body is an InvoiceRequest.
    await this.queue.enqueue('billing.invoice', { orderId, totalCents });
    return this.invoices.enqueue({ orderId, totalCents });
  }

  // The handler must take a ProcessorMessage<InvoiceRequest> and return { invoiceId } (or nothing).
  @Processor('billing.invoice')
  invoice(message: ProcessorMessage<InvoiceRequest>): { invoiceId: string } {
    return { invoiceId: `inv-${message.body.orderId}` };
  }
}
