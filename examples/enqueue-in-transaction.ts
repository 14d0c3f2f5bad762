import { Injectable } from '@nestjs/common';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { InjectQueue, type QueueProducer } from '@fetchcraft/queue';

@Entity('orders')
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column('text')
  customer!: string;

  @Column('integer')
  totalCents!: number;
}

export interface OrderPlaced {
  readonly orderId: string;
}

@Injectable()
export class OrdersService {
  constructor(
    private readonly dataSource: DataSource,
    @InjectQueue('orders.placed') private readonly placed: QueueProducer<OrderPlaced>,
  ) {}

  /**
   * The order and its message commit together: no message about an order that was rolled back,
   * no order whose message was lost. Workers hear of the message at the commit.
   */
  placeOrder(customer: string, totalCents: number): Promise<Order> {
    return this.dataSource.transaction(async (manager) => {
      const order = await manager.save(manager.create(Order, { customer, totalCents }));
      await this.placed.enqueue({ orderId: order.id }, { manager });
      return order;
    });
  }
}
