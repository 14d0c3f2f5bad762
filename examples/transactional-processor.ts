import { Injectable } from '@nestjs/common';
import { Column, Entity, PrimaryColumn } from 'typeorm';
import { Processor, type TransactionalMessage } from '@fetchcraft/queue';
import { type OrderPlaced } from './enqueue-in-transaction.js';

@Entity('invoices')
export class Invoice {
  @PrimaryColumn('uuid')
  orderId!: string;

  /** The message that issued it, for the audit trail. */
  @Column('text')
  messageId!: string;

  @Column('timestamptz')
  issuedAt!: Date;
}

@Injectable()
export class InvoiceProcessor {
  @Processor('orders.placed', { transaction: true, concurrency: 4 })
  async issueInvoice(message: TransactionalMessage<OrderPlaced>): Promise<void> {
    const { manager, body } = message;
    // Written through message.manager, the invoice commits with the message's ack or not at all:
    // a crash, a throw or a lost lease leaves neither, and the message runs again.
    await manager.save(
      manager.create(Invoice, {
        orderId: body.orderId,
        messageId: message.id,
        issuedAt: new Date(),
      }),
    );
  }
}
