// Compile-time checks of typed queues, run by `npm run typecheck` (never executed): each
// `@ts-expect-error` line must be refused by the compiler, every other line accepted.
import {
  Processor,
  type ProcessorMessage,
  type QueueProducerFor,
  type QueueService,
} from '@fetchcraft/queue';

interface TypedOrder {
  readonly orderId: string;
  readonly total: number;
}

declare module '@fetchcraft/queue' {
  interface QueueTypes {
    'types.orders': { body: TypedOrder; result: { charged: boolean } };
  }
}

export async function producers(queue: QueueService, orders: QueueProducerFor<'types.orders'>) {
  await queue.enqueue('types.orders', { orderId: 'o-1', total: 12 });
  // @ts-expect-error a declared queue refuses a body of another shape
  await queue.enqueue('types.orders', { orderId: 'o-1' });
  await queue.enqueueMany('types.orders', [{ orderId: 'o-2', total: 3 }]);
  // @ts-expect-error and so does a batch
  await queue.enqueueMany('types.orders', [{ id: 2 }]);
  // An undeclared name keeps working untyped.
  await queue.enqueue('types.untyped', { anything: true });
  await orders.enqueue({ orderId: 'o-3', total: 1 });
  // @ts-expect-error the producer of a declared queue is typed by it
  await orders.enqueue({ total: 1 });
  const id = await orders.enqueue({ orderId: 'o-4', total: 9 });
  const result: { charged: boolean } = await orders.waitFor(id);
  // @ts-expect-error and so is what its waitFor resolves with
  const wrong: { invoiceId: string } = await orders.waitFor(id);
  return [result, wrong];
}

export class OrderHandlers {
  @Processor('types.orders')
  charge(message: ProcessorMessage<TypedOrder>): Promise<{ charged: boolean }> {
    return Promise.resolve({ charged: message.body.total > 0 });
  }

  // @ts-expect-error a handler of a declared queue must take its body type
  @Processor('types.orders')
  wrongBody(message: ProcessorMessage<{ sku: string }>): Promise<void> {
    return Promise.resolve(void message);
  }

  // @ts-expect-error and return its result type (or nothing)
  @Processor('types.orders')
  wrongResult(message: ProcessorMessage<TypedOrder>): Promise<string> {
    return Promise.resolve(message.body.orderId);
  }

  @Processor('types.untyped')
  untyped(message: ProcessorMessage<{ sku: string }>): number {
    return message.body.sku.length;
  }
}
