import { type LeasedMessage } from '../../src/index.js';
import { type BenchBody, type Contender } from '../contender.js';
import { FetchcraftProducer, QUEUE, VERSION } from './fetchcraft-common.js';

/**
 * This library through raw QueueService calls: a loop per 16 slots that leases a batch with
 * leaseMany, runs the handlers, and acks the batch with ackMany.
 */
export function createContender(): Contender {
  const producer = new FetchcraftProducer();
  let running = false;
  let loops: Promise<void>[] = [];
  const startWorkers = (concurrency: number, handle: (body: BenchBody) => void): Promise<void> => {
    running = true;
    const loopCount = Math.max(1, Math.ceil(concurrency / 16));
    const batch = Number(
      process.env.BENCH_BATCH ?? Math.max(1, Math.floor(concurrency / loopCount)),
    );
    loops = Array.from({ length: loopCount }, async () => {
      while (running) {
        const leased: LeasedMessage<BenchBody>[] = await producer.queue.leaseMany(QUEUE, batch);
        if (leased.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        for (const message of leased) handle(message.body);
        await producer.queue.ackMany(QUEUE, leased);
      }
    });
    return Promise.resolve();
  };

  return {
    info: {
      name: 'fetchcraft-service',
      version: VERSION,
      settings:
        'QueueService.leaseMany(batch = concurrency, one loop per 16) + ackMany per batch, pool 20',
    },
    setup: (url) => producer.setup(url),
    enqueueOne: (body) => producer.enqueueOne(body),
    enqueueBatch: (bodies) => producer.enqueueBatch(bodies),
    startWorkers,
    async stopWorkers() {
      running = false;
      await Promise.all(loops);
    },
    remaining: () => producer.remaining(),
    teardown: () => producer.close(),

    // Priority is the lease's order, so the raw loop has it; the limits are processor options.
    flow: {
      unsupported: {
        groups: 'the limits are @Processor options, not part of the raw leaseMany loop',
        globalConcurrency: 'the limits are @Processor options, not part of the raw leaseMany loop',
        rateLimit: 'the limits are @Processor options, not part of the raw leaseMany loop',
      },
      enqueueFlow: (bodies) => producer.enqueueFlow(bodies),
      startFlowWorkers: (options, handle) =>
        startWorkers(options.concurrency, (body) => void handle(body)),
      running: () => producer.running(),
    },
  };
}
